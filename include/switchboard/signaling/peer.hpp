#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/auth/identity.hpp"
#include "switchboard/signaling/protocol.hpp"

namespace switchboard {

/// WebSocket close codes the daemon sends (protocol.md section 2).
enum class CloseCode : std::uint16_t {
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  invalid_utf8 = 1007,
  policy = 1008,
  too_big = 1009,
  internal_error = 1011,
  service_restart = 1012,  // resume now, on another daemon (a cluster's rolling restart)
  key_revoked = 4001,
  replaced = 4002,
  disconnected = 4003,  // by an administrator (admin API)
};

/// What the signaling core needs from a live connection: who it is, a way to hand it a
/// message, a way to close it. WsSession implements it; unit tests and fuzzers use a
/// recording stand-in. Both calls are thread-safe and never block.
class Peer {
 public:
  explicit Peer(Identity who) : who_(std::move(who)) {}
  virtual ~Peer() = default;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const Identity& identity() const { return who_; }
  UserId user_id() const { return who_.user_id; }

  /// Queues `message` for sending. A peer whose queue is full closes itself (1008).
  virtual void deliver(SharedText message) = 0;
  virtual void close(CloseCode code, std::string_view reason) = 0;
  /// Whether to act on a client message numbered `seq`; false drops it (a resend of one
  /// already handled). Only a resumable Session keeps count.
  virtual bool accept_client_seq(std::uint64_t /*seq*/) { return true; }
  /// The resumable session this peer is, empty for none: a cluster records it with the
  /// user's presence, so that another daemon can find the session for a resume.
  virtual std::string_view session_id() const { return {}; }

 private:
  friend class SignalingHub;
  /// Where this peer's last relay went, as the hub resolved it. The hub reuses it while
  /// nothing about connections or rooms has changed since (its epoch is the hub's), which
  /// spares a relay its three map lookups. The hub's own, under its lock.
  struct RelayRoute {
    std::uint64_t epoch = 0;  // never the hub's: the hub's starts at 1
    UserId to = 0;
    std::string room_id;
    std::weak_ptr<Peer> target;
  };

  Identity who_;
  RelayRoute relay_route_;
};

}  // namespace switchboard
