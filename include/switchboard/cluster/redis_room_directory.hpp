#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {

/// A room rule said no (the same SignalError RoomManager gives), or Redis could not be asked
/// (RedisError: Error `unavailable` on the wire).
using RoomDirectoryError = std::variant<SignalError, RedisError>;

/// Rooms shared by every daemon on one Redis: RoomManager's rules (join order, host = first
/// member, member and rooms-per-user limits, ready set) decided by Lua scripts inside Redis,
/// so that two daemons racing cannot both admit a member past a limit. Outcomes have
/// RoomManager's shapes so that one interface can later cover both.
///
/// Scripts run with EVALSHA (their SHA-1 computed here), falling back to EVAL when Redis
/// answers NOSCRIPT (after a restart or SCRIPT FLUSH), which also loads them again.
/// Callbacks run on the client's strand; a call in flight holds what it needs, so the
/// directory may go before its calls are answered.
class RedisRoomDirectory {
 public:
  using Membership = RoomManager::Membership;
  using Departure = RoomManager::Departure;
  template <class T>
  using Done = std::function<void(Result<T, RoomDirectoryError>)>;

  RedisRoomDirectory(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                     RoomManager::IdGenerator new_room_id = {});

  void create(UserId creator, std::optional<std::size_t> max_members, Done<Membership> done);
  void join(UserId user, const std::string& room_id, Done<Membership> done);
  void leave(UserId user, const std::string& room_id, Done<Departure> done);
  /// Marks `user` ready; the room's other members.
  void ready(UserId user, const std::string& room_id, Done<std::vector<UserId>> done);

  struct Script {
    std::string source;
    std::string sha1;  // hex
  };

 private:
  /// The script's reply: {"ok", members...} or {"err", code}.
  using ScriptDone = std::function<void(Result<std::vector<UserId>, RoomDirectoryError>)>;
  static void run(const std::shared_ptr<RedisClient>& redis, const Script& script,
                  std::vector<std::string> keys, std::vector<std::string> args, ScriptDone done);
  static void create_attempt(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                             RoomManager::IdGenerator new_room_id, UserId creator,
                             std::size_t max_members, int attempts_left, Done<Membership> done);

  std::shared_ptr<RedisClient> redis_;
  RoomLimits limits_;
  RoomManager::IdGenerator new_room_id_;
};

}  // namespace switchboard
