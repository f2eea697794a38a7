#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "switchboard/signaling/session.hpp"

namespace switchboard {

/// What a cluster's hub asks of the daemon's sessions when one moves between daemons (a
/// rolling restart, a resume on another daemon: docs/cluster.md, "Sessions that move").
/// SessionManager implements it.
class SessionMover {
 public:
  virtual ~SessionMover() = default;

  /// Takes `peer`'s session out of this daemon (Session::hand_off): its state, and its carrier
  /// to close. Nullopt when `peer` is not a session or has ended.
  virtual std::optional<Session::HandOff> hand_off(const std::shared_ptr<Peer>& peer) = 0;
  /// Takes on the session `id` of `who` that another daemon handed over, detached until the
  /// resume that asked for it attaches (or the window ends it).
  virtual std::shared_ptr<Session> adopt(const Identity& who, std::string_view id,
                                         const SessionState& state) = 0;
  /// Whether this daemon has the session `id` (attached or detached).
  virtual bool holds(std::string_view id) = 0;
  /// The resume window in seconds (0: resume is off, nothing moves) and what a session keeps.
  virtual unsigned resume_window() const = 0;
  virtual KeepLimits keep_limits() const = 0;
};

}  // namespace switchboard
