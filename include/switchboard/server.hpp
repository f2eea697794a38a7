#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "switchboard/config/settings.hpp"

namespace switchboard {

/// The daemon: owns the io_context and its threads, the worker pool, the store and every
/// service, and runs them until shutdown. Beast stays out of this header (pimpl) so the
/// tests and main compile fast.
class Server {
 public:
  /// Opens the database and loads the web root; throws (a start-up failure) when it cannot.
  explicit Server(Settings settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and starts accepting; returns the bound port. Throws when it cannot bind. With
  /// `handle_signals`, SIGINT and SIGTERM begin the shutdown from here on (so a signal sent
  /// right after the listening line is printed is never missed).
  std::uint16_t start(bool handle_signals);
  /// Runs the I/O threads until shutdown has finished. False when the daemon stopped because
  /// it could not serve (another live daemon of the cluster has its NODE_ID): exit non-zero.
  bool run();
  /// Begins a graceful shutdown (any thread), as SIGTERM does: with drain_seconds, first a
  /// drain (/readyz and new WebSockets answer 503, the rest goes on; a second call ends it);
  /// then stop accepting, close WebSockets with 1001, finish in-flight requests, and run()
  /// returns.
  void request_shutdown();

  const Settings& settings() const;
  /// WebSocket writes that found the socket's buffer full and waited for it to drain.
  std::uint64_t writes_waited() const;
  /// Sessions whose connection was lost, waiting for a resume.
  std::size_t detached_sessions() const;
  /// The port of METRICS_ADDR's listener once started, 0 when /metrics is on the main port.
  std::uint16_t metrics_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard
