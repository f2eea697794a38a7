#include "switchboard/signaling/room_manager.hpp"

#include <algorithm>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

namespace {
bool contains(const std::vector<UserId>& v, UserId u) {
  return std::find(v.begin(), v.end(), u) != v.end();
}
}  // namespace

RoomManager::RoomManager(RoomLimits limits, IdGenerator new_room_id)
    : limits_(limits), new_room_id_(std::move(new_room_id)) {
  // 16 bytes = 128 bits of randomness: knowing a room id is what admits a user.
  if (!new_room_id_) new_room_id_ = [] { return random_token(16); };
}

Result<RoomManager::Membership, SignalError> RoomManager::create(
    UserId creator, std::optional<std::size_t> max_members) {
  auto& mine = rooms_by_user_[creator];
  if (mine.size() >= limits_.rooms_per_user) return SignalError::too_many_rooms;
  std::string id = new_room_id_();
  while (rooms_.contains(id)) id = new_room_id_();
  Room room;
  room.members.push_back(creator);
  room.max_members = std::min(max_members.value_or(limits_.default_size), limits_.max_size);
  auto placed = rooms_.emplace(id, std::move(room)).first;
  ordered_ids_.insert(placed->first);
  mine.push_back(id);
  return Membership{id, creator, {creator}};
}

Result<RoomManager::Membership, SignalError> RoomManager::join(UserId user,
                                                               const std::string& room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return SignalError::room_not_found;
  Room& room = it->second;
  if (contains(room.members, user)) return SignalError::already_in_room;
  if (room.members.size() >= room.max_members) return SignalError::room_full;
  auto& mine = rooms_by_user_[user];
  if (mine.size() >= limits_.rooms_per_user) return SignalError::too_many_rooms;
  room.members.push_back(user);
  mine.push_back(room_id);
  return Membership{room_id, room.members.front(), room.members};
}

std::size_t RoomManager::member_count() const {
  std::size_t n = 0;
  for (const auto& [id, room] : rooms_) n += room.members.size();
  return n;
}

RoomManager::Departure RoomManager::remove_member(const std::string& room_id, Room& room,
                                                  UserId user) {
  std::erase(room.members, user);
  room.ready.erase(user);
  Departure d{room_id, room.members.empty() ? 0 : room.members.front(), room.members};
  if (room.members.empty()) erase_room(rooms_.find(room_id));
  return d;
}

void RoomManager::erase_room(std::unordered_map<std::string, Room>::iterator it) {
  ordered_ids_.erase(it->first);  // first: the view points into the node erased next
  rooms_.erase(it);
}

Result<RoomManager::Departure, SignalError> RoomManager::leave(UserId user,
                                                               const std::string& room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return SignalError::room_not_found;
  if (!contains(it->second.members, user)) return SignalError::not_in_room;
  auto mine = rooms_by_user_.find(user);
  std::erase(mine->second, room_id);
  if (mine->second.empty()) rooms_by_user_.erase(mine);
  // Copy the id: remove_member may erase the room that owns the map key.
  return remove_member(std::string(room_id), it->second, user);
}

std::vector<RoomManager::Departure> RoomManager::leave_all(UserId user) {
  std::vector<Departure> out;
  auto mine = rooms_by_user_.find(user);
  if (mine == rooms_by_user_.end()) return out;
  std::vector<std::string> ids = std::move(mine->second);
  rooms_by_user_.erase(mine);
  for (const auto& id : ids) {
    auto it = rooms_.find(id);
    if (it != rooms_.end()) out.push_back(remove_member(id, it->second, user));
  }
  return out;
}

Result<std::vector<UserId>, SignalError> RoomManager::ready(UserId user,
                                                            const std::string& room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return SignalError::room_not_found;
  Room& room = it->second;
  if (!contains(room.members, user)) return SignalError::not_in_room;
  room.ready.insert(user);
  std::vector<UserId> others;
  for (UserId m : room.members) {
    if (m != user) others.push_back(m);
  }
  return others;
}

std::optional<SignalError> RoomManager::check_relay(UserId from, UserId to,
                                                    const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return SignalError::room_not_found;
  if (!contains(it->second.members, from)) return SignalError::not_in_room;
  if (!contains(it->second.members, to)) return SignalError::peer_not_in_room;
  return std::nullopt;
}

const std::vector<UserId>* RoomManager::members(const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? nullptr : &it->second.members;
}

std::vector<RoomManager::Membership> RoomManager::memberships(UserId user) const {
  std::vector<Membership> out;
  auto it = rooms_by_user_.find(user);
  if (it == rooms_by_user_.end()) return out;
  for (const auto& id : it->second) {
    const auto& members = rooms_.at(id).members;
    out.push_back({id, members.front(), members});
  }
  return out;
}

bool RoomManager::is_ready(UserId user, const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  return it != rooms_.end() && it->second.ready.contains(user);
}

std::size_t RoomManager::rooms_of(UserId user) const {
  auto it = rooms_by_user_.find(user);
  return it == rooms_by_user_.end() ? 0 : it->second.size();
}

RoomManager::Page RoomManager::page(std::string_view after, std::size_t limit) const {
  Page out;
  auto it = after.empty() ? ordered_ids_.begin() : ordered_ids_.upper_bound(after);
  for (; it != ordered_ids_.end() && out.rooms.size() < limit; ++it) {
    const Room& room = rooms_.find(std::string(*it))->second;
    out.rooms.push_back(
        {std::string(*it), room.members.front(), room.members.size(), room.max_members});
  }
  if (it != ordered_ids_.end() && !out.rooms.empty()) out.next = out.rooms.back().room_id;
  return out;
}

std::optional<RoomManager::Detail> RoomManager::detail(const std::string& room_id) const {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return std::nullopt;
  const Room& room = it->second;
  Detail d{room_id, room.members.front(), room.members, {}, room.max_members};
  for (UserId m : room.members) {
    if (room.ready.contains(m)) d.ready.push_back(m);
  }
  return d;
}

std::optional<std::vector<UserId>> RoomManager::close(const std::string& room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return std::nullopt;
  std::vector<UserId> members = std::move(it->second.members);
  for (UserId m : members) {
    auto mine = rooms_by_user_.find(m);
    std::erase(mine->second, room_id);
    if (mine->second.empty()) rooms_by_user_.erase(mine);
  }
  erase_room(it);
  return members;
}

bool RoomManager::invariants_hold() const {
  if (ordered_ids_.size() != rooms_.size()) return false;
  for (auto id : ordered_ids_) {
    auto it = rooms_.find(std::string(id));
    if (it == rooms_.end() || it->first.data() != id.data()) return false;
  }
  std::size_t memberships = 0;
  for (const auto& [id, room] : rooms_) {
    if (room.members.empty() || room.members.size() > room.max_members) return false;
    if (room.max_members > limits_.max_size) return false;
    auto sorted = room.members;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return false;
    for (UserId r : room.ready) {
      if (!contains(room.members, r)) return false;
    }
    for (UserId m : room.members) {
      auto mine = rooms_by_user_.find(m);
      if (mine == rooms_by_user_.end()) return false;
      if (std::find(mine->second.begin(), mine->second.end(), id) == mine->second.end()) {
        return false;
      }
    }
    memberships += room.members.size();
  }
  std::size_t indexed = 0;
  for (const auto& [user, ids] : rooms_by_user_) {
    if (ids.empty() || ids.size() > limits_.rooms_per_user) return false;
    indexed += ids.size();
  }
  return indexed == memberships;
}

}  // namespace switchboard
