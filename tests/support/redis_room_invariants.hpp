#pragma once

#include <string>

#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard::test {

/// Checks, inside Redis in one script, every invariant of the room keys RedisRoomDirectory
/// keeps (RoomManager::invariants_hold's, over Redis): each room has its `max`, a join counter
/// and at least one member, no more members than its `max`, a `max` within `limits.max_size`,
/// ready users among its members, and a place in `sb:rooms`, which lists no other room; each
/// member's `sb:user:U:rooms` names the room; each user's set holds 1 to
/// `limits.rooms_per_user` rooms that all have the user as a member; no other key under
/// `sb:room:`. Walks every key (KEYS): for tests only.
///
/// Returns "" when they all hold, else what is wrong, one problem a line. Blocks the calling
/// thread (never an io thread of `redis`) for at most 10 s.
std::string redis_room_problems(RedisClient& redis, const RoomLimits& limits);

}  // namespace switchboard::test
