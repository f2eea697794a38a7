#pragma once

#include <atomic>
#include <cstdint>

namespace switchboard {

struct Settings;
class RestApi;
class AccountService;
class TicketBook;
class CredentialCache;
class Hub;
class SessionManager;
class ConnectionLimiter;
class HttpSessionSet;
class Metrics;

/// The long-lived services a connection uses, owned by Server and outliving every session.
struct ServerContext {
  const Settings& settings;
  RestApi& api;
  AccountService& accounts;
  TicketBook& tickets;
  CredentialCache& credentials;
  Hub& hub;
  SessionManager& sessions;
  HttpSessionSet& http_sessions;
  std::atomic<bool>& shutting_down;
  /// SIGTERM with drain_seconds: new WebSockets are refused 503 (REST still served).
  const std::atomic<bool>& draining;
  /// Writes that found a socket's buffer full and waited for it to drain (WsSession).
  std::atomic<std::uint64_t>& writes_waited;
  /// Counters for /metrics; each thread counts into its own shard (Metrics::local).
  Metrics& metrics;
};

}  // namespace switchboard
