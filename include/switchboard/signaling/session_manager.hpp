#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchboard/signaling/session.hpp"
#include "switchboard/signaling/session_mover.hpp"

namespace switchboard {

class Hub;

/// What a client asks for with `/ws?resume=<session>&last_seq=<n>`.
struct ResumeRequest {
  std::string session;
  std::uint64_t last_seq = 0;
  /// The user's rooms, read from the hub before the upgrade (in a cluster that is a trip to
  /// Redis, which attach, called on the connection's thread, must not wait for).
  std::vector<RoomView> rooms;
};

/// The sessions of the daemon (protocol.md, "Session resume"): which connection a session is
/// attached to, when a lost connection's session waits for a resume, and when a session ends.
/// Sessions are found by id for a resume; a detached one ends when its window runs out
/// (sweep, once a second). Thread-safe: connections on any I/O thread call in.
class SessionManager : public SessionMover {
 public:
  using Clock = Session::Clock;

  /// `resume_window` seconds (0: resume off, a lost connection ends its session at once).
  SessionManager(Hub& hub, unsigned resume_window, KeepLimits keep);
  ~SessionManager() override;

  struct Attached {
    std::shared_ptr<Session> session;
    bool resumed = false;
  };
  /// Gives `carrier` a session of `who` and sends it the Welcome (then, on a resume, the
  /// kept messages after `last_seq`): the session `resume` names when it is `who`'s, alive and
  /// holds everything after `last_seq` (its old carrier is closed with 4002); otherwise a
  /// fresh one, which replaces the user's other session as a second connection does.
  Attached attach(const Identity& who, const std::optional<ResumeRequest>& resume,
                  const std::shared_ptr<SessionCarrier>& carrier, const nlohmann::json& ice);

  /// `carrier`'s connection is over. `lost` (no close handshake: a network loss, a ping
  /// unanswered) detaches the session for the window; anything else ends it. Nothing happens
  /// when the session has another carrier by now (it was resumed elsewhere).
  void release(const std::shared_ptr<Session>& session, const SessionCarrier* carrier, bool lost);

  /// Ends the sessions detached for longer than the window (PeerLeft, host hand-over).
  void sweep(Clock::time_point now);

  // SessionMover: a session that moves to or from another daemon of a cluster.
  std::optional<Session::HandOff> hand_off(const std::shared_ptr<Peer>& peer) override;
  std::shared_ptr<Session> adopt(const Identity& who, std::string_view id,
                                 const SessionState& state) override;
  bool holds(std::string_view id) override;
  unsigned resume_window() const override { return window_seconds_; }
  KeepLimits keep_limits() const override { return keep_; }
  std::size_t session_count();
  std::size_t detached_count();

 private:
  std::shared_ptr<Session> start_session(const Identity& who,
                                         const std::shared_ptr<SessionCarrier>& carrier,
                                         const nlohmann::json& ice);
  /// The session has ended: out of the hub (its rooms left) and out of the tables.
  void forget(Session& session);
  /// Out of the tables only; the last reference, if they held it.
  std::shared_ptr<Session> untable(const Session& session);

  Hub& hub_;
  const unsigned window_seconds_;
  const KeepLimits keep_;
  std::mutex mutex_;
  // Keyed by a view of the session's own id, which lives as long as the entry holds it.
  std::unordered_map<std::string_view, std::shared_ptr<Session>> by_id_;
  std::unordered_map<std::string_view, std::shared_ptr<Session>> detached_;
};

}  // namespace switchboard
