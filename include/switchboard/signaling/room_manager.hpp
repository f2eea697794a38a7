#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

struct RoomLimits {
  std::size_t default_size = 16;
  std::size_t max_size = 64;
  std::size_t rooms_per_user = 8;
};

/// Rooms and their members: who is in which room, in what order they joined, who is host,
/// who is ready. Pure state with no I/O and no locking of its own: SignalingHub serialises
/// access. The host is always the first member in join order, so hand-over on departure
/// falls out of the order itself.
class RoomManager {
 public:
  using IdGenerator = std::function<std::string()>;

  explicit RoomManager(RoomLimits limits, IdGenerator new_room_id = {});

  struct Membership {
    std::string room_id;
    UserId host = 0;
    std::vector<UserId> members;  // join order; host first
  };
  struct Departure {
    std::string room_id;
    UserId host = 0;                // after the departure; 0 when the room is gone
    std::vector<UserId> remaining;  // join order
  };

  Result<Membership, SignalError> create(UserId creator, std::optional<std::size_t> max_members);
  Result<Membership, SignalError> join(UserId user, const std::string& room_id);
  Result<Departure, SignalError> leave(UserId user, const std::string& room_id);
  /// Leaves every room of `user` (disconnection, replacement).
  std::vector<Departure> leave_all(UserId user);
  /// Marks `user` ready; returns the room's other members.
  Result<std::vector<UserId>, SignalError> ready(UserId user, const std::string& room_id);
  /// Why `from` may not send to `to` in `room_id`, or nullopt when it may.
  std::optional<SignalError> check_relay(UserId from, UserId to, const std::string& room_id) const;

  /// Members of a room in join order, or nullptr when there is no such room.
  const std::vector<UserId>* members(const std::string& room_id) const;
  bool is_ready(UserId user, const std::string& room_id) const;
  std::size_t room_count() const { return rooms_.size(); }
  /// Members of all rooms together (walks the rooms: for a scrape, not a hot path).
  std::size_t member_count() const;
  std::size_t rooms_of(UserId user) const;
  /// Every room of `user`, as it is now.
  std::vector<Membership> memberships(UserId user) const;

  // The administrator's view (admin API).

  /// A room as a listing shows it.
  struct Summary {
    std::string room_id;
    UserId host = 0;
    std::size_t members = 0;
    std::size_t max_members = 0;
  };
  /// One page of the rooms in room-id order: the first `limit` after `after` ("" for the
  /// start). `next` is the last id listed when more rooms follow, else nullopt.
  struct Page {
    std::vector<Summary> rooms;
    std::optional<std::string> next;
  };
  /// O(log n + limit): an ordered index of the ids, never a walk over every room.
  Page page(std::string_view after, std::size_t limit) const;
  /// A room in full.
  struct Detail {
    std::string room_id;
    UserId host = 0;
    std::vector<UserId> members;  // join order
    std::vector<UserId> ready;    // join order
    std::size_t max_members = 0;
  };
  std::optional<Detail> detail(const std::string& room_id) const;
  /// Removes the room and every membership in it at once (no departures, no hand-over);
  /// returns its members in join order, or nullopt when there is no such room.
  std::optional<std::vector<UserId>> close(const std::string& room_id);

  /// Checks every structural invariant (for tests and fuzzers): non-empty rooms, no duplicate
  /// members, room sizes within bounds, the per-user and ordered indexes agreeing with the
  /// rooms.
  bool invariants_hold() const;

 private:
  struct Room {
    std::vector<UserId> members;
    std::unordered_set<UserId> ready;
    std::size_t max_members = 0;
  };
  Departure remove_member(const std::string& room_id, Room& room, UserId user);
  void erase_room(std::unordered_map<std::string, Room>::iterator it);

  RoomLimits limits_;
  IdGenerator new_room_id_;
  std::unordered_map<std::string, Room> rooms_;
  // The ids of rooms_ in order, as views of its keys (nodes of an unordered_map never move):
  // what lets a listing page through 100,000 rooms without touching them all. The hot paths
  // keep the hash lookup; only create and the room's end pay the O(log n) insert and erase.
  std::set<std::string_view> ordered_ids_;
  std::unordered_map<UserId, std::vector<std::string>> rooms_by_user_;
};

}  // namespace switchboard
