#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchboard/signaling/kept_messages.hpp"
#include "switchboard/signaling/peer.hpp"

namespace switchboard {

/// What carries a Session to its client: the WebSocket (WsSession). Both calls are
/// thread-safe and never block.
class SessionCarrier {
 public:
  virtual ~SessionCarrier() = default;
  /// Queues `message` for sending, numbered `seq` (0: not numbered, the Welcome).
  virtual void carry(std::uint64_t seq, SharedText message) = 0;
  /// Closes the connection with `code`.
  virtual void drop(CloseCode code, std::string_view reason) = 0;
};

/// A session as it moves to another daemon of a cluster (a rolling restart, a resume there):
/// its numbering and the messages it keeps for a resume.
struct SessionState {
  std::uint64_t next_seq = 1;     // the seq of the next message it is sent
  std::uint64_t client_seq = 0;   // the highest client seq handled
  std::vector<KeptMessage> kept;  // oldest first
};

/// A user's signaling session (protocol.md, "Session resume"): what the hub registers for the
/// user and routes to, apart from the connection that carries it. It numbers what it is sent
/// (`seq`), keeps the latest messages for a resume, remembers the highest client `seq`
/// handled, and hands each message to its carrier while it has one. One mutex orders all of
/// it: a message is handed to the old carrier before a take-over or to the new one after it
/// (replayed or not), never both, never neither. The hub sees a Peer; SessionManager decides
/// when a session is attached, detached and ended.
class Session : public Peer, public std::enable_shared_from_this<Session> {
 public:
  using Clock = std::chrono::steady_clock;

  /// The length of a session id: 256 random bits in base64url (random_token(32)).
  static constexpr std::size_t kIdLength = 43;

  /// `id` is the session's secret (the Welcome's `session`), kIdLength characters (else
  /// std::invalid_argument).
  Session(Identity who, std::string_view id, KeepLimits keep);
  /// A session taken on from another daemon (SessionState), detached since `now`: it waits
  /// for the resume that brought it here.
  Session(Identity who, std::string_view id, KeepLimits keep, const SessionState& state,
          Clock::time_point now);

  std::string_view id() const { return {id_.data(), id_.size()}; }
  std::string_view session_id() const override { return id(); }

  /// Numbers and keeps `message` and hands it to the carrier, if attached. A detached session
  /// that has kept more than its limits since it was detached overflows: it ends (on_close).
  void deliver(SharedText message) override;
  /// Ends the session: the end handler takes it out of the hub (its rooms are left), and its
  /// carrier, if any, is closed with `code`. Idempotent.
  void close(CloseCode code, std::string_view reason) override;
  /// False for a client `seq` not above the highest handled (a resend), and for any once the
  /// session has ended or moved: dropped.
  bool accept_client_seq(std::uint64_t seq) override;

  /// What another daemon takes the session on with, and its carrier (to close).
  struct HandOff {
    SessionState state;
    std::shared_ptr<SessionCarrier> carrier;
  };
  /// The session moves to another daemon: it ends here without its end handler (its rooms
  /// stay its own), and what it numbered, handled and kept is returned. Nullopt when it has
  /// ended already.
  std::optional<HandOff> hand_off();

  /// Makes `carrier` the session's, sending it `welcome` (with the ack the caller's builder
  /// puts in it) and then every kept message above `last_seq`; the old carrier, if any, is
  /// returned to be closed with 4002. Nullopt (nothing changed) when the session has ended or
  /// no longer holds everything above `last_seq`. For a new session, last_seq is 0.
  template <class WelcomeBuilder>
  std::optional<std::shared_ptr<SessionCarrier>> attach(std::shared_ptr<SessionCarrier> carrier,
                                                        std::uint64_t last_seq,
                                                        WelcomeBuilder welcome);

  /// The carrier is gone without a close handshake: keep what comes until a resume or the
  /// end. False (nothing changed) when `carrier` is not the session's (taken over already).
  bool detach(const SessionCarrier* carrier, Clock::time_point now);
  /// Ends the session if `carrier` carries it (its connection closed with a handshake);
  /// nothing if it was taken over meanwhile.
  void end_from(const SessionCarrier* carrier);
  /// Marks the session ended if it has been detached since before `deadline` (the window's
  /// end); true when it did, and the caller ends it in the hub.
  bool expire_if_detached_before(Clock::time_point deadline);
  bool ended();

  /// Called once, outside the session's lock, when the session ends (close(), an overflow,
  /// the window): SessionManager takes it out of the hub there. Set before it is shared.
  void set_end_handler(std::function<void(Session&)> handler) { on_end_ = std::move(handler); }

 private:
  bool holds_everything_after_locked(std::uint64_t last_seq) const;
  /// Marks the session ended: its carrier (to close) if this call ended it, else nullopt.
  std::optional<std::shared_ptr<SessionCarrier>> end_locked();

  std::array<char, kIdLength> id_;  // in place: a string this long would be one more allocation
  const KeepLimits keep_;
  std::function<void(Session&)> on_end_;

  std::mutex mutex_;
  std::shared_ptr<SessionCarrier> carrier_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t client_seq_ = 0;  // the highest client seq handled
  // Allocated with the first message kept: a session that is only connected (most of them,
  // most of the time) holds no keep.
  std::unique_ptr<KeptMessages> kept_;
  std::size_t kept_since_detach_ = 0;  // messages kept while detached: the overflow bound
  std::size_t bytes_since_detach_ = 0;
  std::optional<Clock::time_point> detached_since_;
  bool ended_ = false;
};

template <class WelcomeBuilder>
std::optional<std::shared_ptr<SessionCarrier>> Session::attach(
    std::shared_ptr<SessionCarrier> carrier, std::uint64_t last_seq, WelcomeBuilder welcome) {
  std::lock_guard lock(mutex_);
  if (ended_ || !holds_everything_after_locked(last_seq)) return std::nullopt;
  auto previous = std::exchange(carrier_, carrier);
  detached_since_.reset();
  kept_since_detach_ = 0;
  bytes_since_detach_ = 0;
  carrier->carry(0, welcome(client_seq_));
  if (kept_) {
    kept_->for_each_after(last_seq, [&](std::uint64_t seq, std::string_view text) {
      carrier->carry(seq, std::make_shared<const std::string>(text));
    });
  }
  return previous;
}

}  // namespace switchboard
