#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {

/// The command came from a connection that another has replaced since (its `fence` no longer
/// holds the user's presence): nothing was done, and nobody is to be told.
struct Fenced {};

/// A room rule said no (the same SignalError RoomManager gives), Redis could not be asked
/// (RedisError: Error `unavailable` on the wire), or the sender was fenced off.
using RoomDirectoryError = std::variant<SignalError, RedisError, Fenced>;

/// Rooms shared by every daemon on one Redis: RoomManager's rules (join order, host = first
/// member, member and rooms-per-user limits, ready set) decided by Lua scripts inside Redis,
/// so that two daemons racing cannot both admit a member past a limit. Outcomes have
/// RoomManager's shapes so that one interface can later cover both.
///
/// Scripts are loaded in every handshake of the client (RedisClient::preload_script) and run
/// with EVALSHA (run_script: EVAL after a NOSCRIPT, which only a SCRIPT FLUSH leaves).
/// leave_all, memberships, page and close find the rooms or users they touch in the data
/// (a user's room set, a room's members), so they name keys they were not given: right on one
/// Redis, not on a Redis Cluster (whose scripts must declare every key).
/// Callbacks run on the client's strand; a call in flight holds what it needs, so the
/// directory may go before its calls are answered.
struct RedisScript;

class RedisRoomDirectory {
 public:
  using Membership = RoomManager::Membership;
  static constexpr const char* kAnyConnection = "*";
  /// release()'s `node` for a parked session (SessionParking), with its id hash as `conn`.
  static constexpr const char* kParked = "~parked";
  using Departure = RoomManager::Departure;
  template <class T>
  using Done = std::function<void(Result<T, RoomDirectoryError>)>;

  RedisRoomDirectory(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                     RoomManager::IdGenerator new_room_id = {});

  // create, join, leave and ready take a `fence`: the sending connection's session
  // (SessionParking::session_hash). The script then acts only while that session holds the
  // user's presence (connected, or parked for a resume): a connection replaced on another
  // daemon may still have commands on their way, and they must not act for its replacement.
  // Empty: no check.
  void create(UserId creator, std::optional<std::size_t> max_members, Done<Membership> done,
              const std::string& fence = {});
  void join(UserId user, const std::string& room_id, Done<Membership> done,
            const std::string& fence = {});
  void leave(UserId user, const std::string& room_id, Done<Departure> done,
             const std::string& fence = {});
  /// Leaves every room of `user` in one script (disconnection, replacement): the departures
  /// in the order the user entered the rooms, as RoomManager::leave_all gives them.
  void leave_all(UserId user, Done<std::vector<Departure>> done);
  /// A connection of `user` has ended: if it (`conn` on `node`) still holds the user's
  /// presence (PresenceDirectory), the presence goes and the user leaves every room, in one
  /// step; if a newer connection holds it, nothing changes (no departures), so a late end
  /// never takes the newer connection's rooms. `conn` kAnyConnection: whichever connection
  /// of `node` holds it (a dead node's users, whose connections nobody knows). `node`
  /// kParked: the session parked under `conn` (its id hash), if the presence is still its.
  void release(UserId user, const std::string& node, const std::string& conn,
               Done<std::vector<Departure>> done);
  /// Marks `user` ready; the room's other members.
  void ready(UserId user, const std::string& room_id, Done<std::vector<UserId>> done,
             const std::string& fence = {});
  /// Why `from` may not send to `to` in `room_id`, or nullopt when it may; RoomManager's
  /// rules and precedence (room_not_found, not_in_room, peer_not_in_room).
  void check_relay(UserId from, UserId to, const std::string& room_id,
                   Done<std::optional<SignalError>> done);

  /// Members of a room in join order, or nullopt when there is no such room (one read).
  void members(const std::string& room_id, Done<std::optional<std::vector<UserId>>> done);
  void is_ready(UserId user, const std::string& room_id, Done<bool> done);
  /// Every room of `user` as it is now, in the order the user entered them.
  void memberships(UserId user, Done<std::vector<Membership>> done);

  // The administrator's view (admin API), as RoomManager's.

  /// One page of the rooms in room-id order, from the sorted set `sb:rooms` (every score 0,
  /// so ZRANGEBYLEX orders by id): O(log n + limit). A limit above 2^20 is taken as 2^20, a
  /// bound on one reply.
  void page(std::string_view after, std::size_t limit, Done<RoomManager::Page> done);
  void detail(const std::string& room_id, Done<std::optional<RoomManager::Detail>> done);
  /// Removes the room and every membership in it at once (no hand-over), and tells every
  /// member RoomClosed with `reason`; its members in join order, or nullopt when there is no
  /// such room.
  void close(const std::string& room_id, std::string_view reason,
             Done<std::optional<std::vector<UserId>>> done);

 private:
  /// The script's reply: {"ok", members...} or {"err", code}.
  using ScriptDone = std::function<void(Result<std::vector<UserId>, RoomDirectoryError>)>;
  static void run(const std::shared_ptr<RedisClient>& redis, const RedisScript& script,
                  std::vector<std::string> keys, std::vector<std::string> args, ScriptDone done);
  static void create_attempt(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                             RoomManager::IdGenerator new_room_id, UserId creator,
                             std::size_t max_members, int attempts_left, std::string fence,
                             Done<Membership> done);

  std::shared_ptr<RedisClient> redis_;
  RoomLimits limits_;
  RoomManager::IdGenerator new_room_id_;
};

}  // namespace switchboard
