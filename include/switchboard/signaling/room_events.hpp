#pragma once

#include <string>
#include <string_view>

#include "switchboard/auth/identity.hpp"

namespace switchboard {

/// What the hub tells the outside world about its rooms (the webhooks listen). The hub calls
/// the four changes while it holds its lock, in the order the rooms changed, so that a
/// listener sees one room's history in order; an implementation must therefore be cheap and
/// never block, do I/O or call back into the hub. `flush` comes after the lock is released,
/// once per hub operation that reported anything: the place for a wake-up that may cost a
/// system call.
class RoomEvents {
 public:
  virtual ~RoomEvents() = default;

  virtual void room_created(const std::string& room_id, UserId host) = 0;
  virtual void peer_joined(const std::string& room_id, UserId user) = 0;
  virtual void peer_left(const std::string& room_id, UserId user) = 0;
  /// The room is gone. `reason` is "empty" when its last member left (after that member's
  /// peer_left); a room closed for its members (an admin's call) reports no peer_left.
  virtual void room_closed(const std::string& room_id, std::string_view reason) = 0;
  virtual void flush() = 0;
};

}  // namespace switchboard
