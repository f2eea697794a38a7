#include "switchboard/signaling/room_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace switchboard {
namespace {

using Members = std::vector<UserId>;

/// Room ids "room-1", "room-2", ... so that tests can name rooms before they exist.
RoomManager::IdGenerator counting_ids() {
  return [n = 0]() mutable { return "room-" + std::to_string(++n); };
}

RoomManager make(std::size_t default_size = 4, std::size_t max_size = 6,
                 std::size_t rooms_per_user = 3) {
  return RoomManager(RoomLimits{default_size, max_size, rooms_per_user}, counting_ids());
}

std::string create_room(RoomManager& rooms, UserId creator,
                        std::optional<std::size_t> max = std::nullopt) {
  auto r = rooms.create(creator, max);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r.value().room_id : std::string();
}

TEST(RoomManager, CreatorIsHostAndFirstMember) {
  auto rooms = make();
  auto r = rooms.create(10, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().room_id, "room-1");
  EXPECT_EQ(r.value().host, 10u);
  EXPECT_EQ(r.value().members, Members{10});
  ASSERT_NE(rooms.members("room-1"), nullptr);
  EXPECT_EQ(*rooms.members("room-1"), Members{10});
  EXPECT_EQ(rooms.room_count(), 1u);
  EXPECT_EQ(rooms.rooms_of(10), 1u);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, DefaultRoomIdsAreRandom128Bit) {
  RoomManager rooms(RoomLimits{});
  std::set<std::string> ids;
  for (UserId u = 1; u <= 50; ++u) {
    auto r = rooms.create(u, std::nullopt);
    ASSERT_TRUE(r.ok());
    EXPECT_GE(r.value().room_id.size(), 22u);  // 128 bits as base64url
    ids.insert(r.value().room_id);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, CollidingGeneratedIdIsRetried) {
  std::vector<std::string> ids = {"same", "same", "other"};
  std::size_t next = 0;
  RoomManager rooms(RoomLimits{}, [&] { return ids.at(next++); });
  auto a = rooms.create(1, std::nullopt);
  auto b = rooms.create(2, std::nullopt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.value().room_id, "same");
  EXPECT_EQ(b.value().room_id, "other");
  EXPECT_EQ(*rooms.members("same"), Members{1});
  EXPECT_EQ(*rooms.members("other"), Members{2});
}

TEST(RoomManager, DefaultSizeApplies) {
  auto rooms = make(3, 6);
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.join(3, id).ok());
  auto full = rooms.join(4, id);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), SignalError::room_full);
  EXPECT_EQ(*rooms.members(id), (Members{1, 2, 3}));
  EXPECT_EQ(rooms.rooms_of(4), 0u);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, RequestedSizeApplies) {
  auto rooms = make(3, 6);
  auto id = create_room(rooms, 1, 5);
  for (UserId u = 2; u <= 5; ++u) ASSERT_TRUE(rooms.join(u, id).ok()) << u;
  auto full = rooms.join(6, id);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), SignalError::room_full);
}

TEST(RoomManager, RequestedSizeIsCappedAtMax) {
  auto rooms = make(3, 4);
  auto id = create_room(rooms, 1, 1000);
  for (UserId u = 2; u <= 4; ++u) ASSERT_TRUE(rooms.join(u, id).ok()) << u;
  auto full = rooms.join(5, id);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), SignalError::room_full);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, RoomOfOneIsFullAtOnce) {
  auto rooms = make();
  auto id = create_room(rooms, 1, 1);
  auto r = rooms.join(2, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::room_full);
}

TEST(RoomManager, JoinListsMembersInJoinOrderWithJoinerLast) {
  auto rooms = make();
  auto id = create_room(rooms, 30);
  auto a = rooms.join(10, id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().room_id, id);
  EXPECT_EQ(a.value().host, 30u);
  EXPECT_EQ(a.value().members, (Members{30, 10}));
  auto b = rooms.join(20, id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().host, 30u);
  EXPECT_EQ(b.value().members, (Members{30, 10, 20}));
  EXPECT_EQ(*rooms.members(id), (Members{30, 10, 20}));
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, JoinTwiceIsAlreadyInRoom) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  for (UserId u : {UserId{1}, UserId{2}}) {
    auto r = rooms.join(u, id);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), SignalError::already_in_room);
  }
  EXPECT_EQ(*rooms.members(id), (Members{1, 2}));
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, AlreadyInRoomWinsOverRoomFull) {
  auto rooms = make();
  auto id = create_room(rooms, 1, 2);
  ASSERT_TRUE(rooms.join(2, id).ok());
  auto r = rooms.join(2, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::already_in_room);
}

TEST(RoomManager, UnknownRoomIsRoomNotFound) {
  auto rooms = make();
  auto j = rooms.join(1, "nope");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error(), SignalError::room_not_found);
  auto l = rooms.leave(1, "nope");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error(), SignalError::room_not_found);
  auto r = rooms.ready(1, "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::room_not_found);
  EXPECT_EQ(rooms.check_relay(1, 2, "nope"), SignalError::room_not_found);
  EXPECT_EQ(rooms.members("nope"), nullptr);
  EXPECT_EQ(rooms.room_count(), 0u);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, TooManyRoomsOnCreate) {
  auto rooms = make(4, 6, 2);
  create_room(rooms, 1);
  create_room(rooms, 1);
  auto r = rooms.create(1, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::too_many_rooms);
  EXPECT_EQ(rooms.room_count(), 2u);
  EXPECT_EQ(rooms.rooms_of(1), 2u);
  EXPECT_TRUE(rooms.invariants_hold());
  // Another user is not affected.
  EXPECT_TRUE(rooms.create(2, std::nullopt).ok());
}

TEST(RoomManager, TooManyRoomsOnJoin) {
  auto rooms = make(4, 6, 2);
  auto a = create_room(rooms, 1);
  auto b = create_room(rooms, 2);
  auto c = create_room(rooms, 3);
  ASSERT_TRUE(rooms.join(9, a).ok());
  ASSERT_TRUE(rooms.join(9, b).ok());
  auto r = rooms.join(9, c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::too_many_rooms);
  EXPECT_EQ(*rooms.members(c), Members{3});
  EXPECT_EQ(rooms.rooms_of(9), 2u);
  EXPECT_TRUE(rooms.invariants_hold());
  // Leaving one makes room for another.
  ASSERT_TRUE(rooms.leave(9, a).ok());
  EXPECT_TRUE(rooms.join(9, c).ok());
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, HostPassesToNextInJoinOrder) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.join(3, id).ok());
  auto d = rooms.leave(1, id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().room_id, id);
  EXPECT_EQ(d.value().host, 2u);
  EXPECT_EQ(d.value().remaining, (Members{2, 3}));
  EXPECT_EQ(*rooms.members(id), (Members{2, 3}));
  EXPECT_EQ(rooms.rooms_of(1), 0u);
  EXPECT_TRUE(rooms.invariants_hold());
  // The old host rejoins at the end, not at the front.
  auto back = rooms.join(1, id);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().host, 2u);
  EXPECT_EQ(back.value().members, (Members{2, 3, 1}));
}

TEST(RoomManager, NonHostLeavingKeepsHost) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.join(3, id).ok());
  auto d = rooms.leave(2, id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().host, 1u);
  EXPECT_EQ(d.value().remaining, (Members{1, 3}));
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, LeaveByNonMemberIsNotInRoom) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  auto r = rooms.leave(2, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::not_in_room);
  EXPECT_EQ(*rooms.members(id), Members{1});
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, EmptyRoomIsDeleted) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.leave(1, id).ok());
  auto d = rooms.leave(2, id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().host, 0u);
  EXPECT_TRUE(d.value().remaining.empty());
  EXPECT_EQ(rooms.members(id), nullptr);
  EXPECT_EQ(rooms.room_count(), 0u);
  EXPECT_EQ(rooms.rooms_of(2), 0u);
  EXPECT_TRUE(rooms.invariants_hold());
  auto j = rooms.join(3, id);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error(), SignalError::room_not_found);
}

TEST(RoomManager, LeaveAllLeavesEveryRoom) {
  auto rooms = make(4, 6, 4);
  auto own = create_room(rooms, 1);        // 1 alone: deleted
  auto shared = create_room(rooms, 1);     // 1 is host: passes to 2
  auto visited = create_room(rooms, 3);    // 1 is a guest: host stays 3
  auto unrelated = create_room(rooms, 4);  // untouched
  ASSERT_TRUE(rooms.join(2, shared).ok());
  ASSERT_TRUE(rooms.join(1, visited).ok());
  ASSERT_TRUE(rooms.join(5, visited).ok());

  auto departures = rooms.leave_all(1);
  ASSERT_EQ(departures.size(), 3u);
  std::map<std::string, RoomManager::Departure> by_room;
  for (auto& d : departures) by_room[d.room_id] = d;
  ASSERT_EQ(by_room.size(), 3u);
  EXPECT_EQ(by_room[own].host, 0u);
  EXPECT_TRUE(by_room[own].remaining.empty());
  EXPECT_EQ(by_room[shared].host, 2u);
  EXPECT_EQ(by_room[shared].remaining, Members{2});
  EXPECT_EQ(by_room[visited].host, 3u);
  EXPECT_EQ(by_room[visited].remaining, (Members{3, 5}));

  EXPECT_EQ(rooms.members(own), nullptr);
  EXPECT_EQ(rooms.rooms_of(1), 0u);
  EXPECT_EQ(*rooms.members(unrelated), Members{4});
  EXPECT_EQ(rooms.room_count(), 3u);
  EXPECT_TRUE(rooms.invariants_hold());
  EXPECT_TRUE(rooms.leave_all(1).empty());
}

TEST(RoomManager, LeaveAllOfAStrangerDoesNothing) {
  auto rooms = make();
  create_room(rooms, 1);
  EXPECT_TRUE(rooms.leave_all(99).empty());
  EXPECT_EQ(rooms.room_count(), 1u);
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, ReadyReturnsTheOtherMembers) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.join(3, id).ok());
  auto r = rooms.ready(2, id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (Members{1, 3}));
  EXPECT_TRUE(rooms.is_ready(2, id));
  EXPECT_FALSE(rooms.is_ready(1, id));
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, ReadyOnlyForMembers) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  auto r = rooms.ready(2, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SignalError::not_in_room);
  EXPECT_FALSE(rooms.is_ready(2, id));
}

TEST(RoomManager, ReadinessIsForgottenOnLeave) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.ready(2, id).ok());
  ASSERT_TRUE(rooms.leave(2, id).ok());
  EXPECT_FALSE(rooms.is_ready(2, id));
  ASSERT_TRUE(rooms.join(2, id).ok());
  EXPECT_FALSE(rooms.is_ready(2, id));
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, ReadyAloneHasNobodyToTell) {
  auto rooms = make();
  auto id = create_room(rooms, 1);
  auto r = rooms.ready(1, id);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().empty());
}

TEST(RoomManager, CheckRelay) {
  auto rooms = make();
  auto a = create_room(rooms, 1);
  auto b = create_room(rooms, 3);
  ASSERT_TRUE(rooms.join(2, a).ok());
  ASSERT_TRUE(rooms.join(4, b).ok());
  EXPECT_EQ(rooms.check_relay(1, 2, a), std::nullopt);
  EXPECT_EQ(rooms.check_relay(2, 1, a), std::nullopt);
  EXPECT_EQ(rooms.check_relay(1, 2, "missing"), SignalError::room_not_found);
  // The sender is not in the named room.
  EXPECT_EQ(rooms.check_relay(1, 3, b), SignalError::not_in_room);
  EXPECT_EQ(rooms.check_relay(9, 1, a), SignalError::not_in_room);
  // The target is in another room, or nowhere.
  EXPECT_EQ(rooms.check_relay(1, 3, a), SignalError::peer_not_in_room);
  EXPECT_EQ(rooms.check_relay(1, 99, a), SignalError::peer_not_in_room);
  // After the target leaves.
  ASSERT_TRUE(rooms.leave(2, a).ok());
  EXPECT_EQ(rooms.check_relay(1, 2, a), SignalError::peer_not_in_room);
}

TEST(RoomManager, UserInSeveralRooms) {
  auto rooms = make(4, 6, 3);
  auto a = create_room(rooms, 1);
  auto b = create_room(rooms, 2);
  ASSERT_TRUE(rooms.join(1, b).ok());
  EXPECT_EQ(rooms.rooms_of(1), 2u);
  ASSERT_TRUE(rooms.leave(1, a).ok());
  EXPECT_EQ(rooms.rooms_of(1), 1u);
  EXPECT_EQ(*rooms.members(b), (Members{2, 1}));
  EXPECT_TRUE(rooms.invariants_hold());
}

/// A plain model of the rules, to compare RoomManager against under random operations.
struct Model {
  struct Room {
    Members members;
    std::size_t max = 0;
    std::set<UserId> ready;
  };
  RoomLimits limits;
  std::map<std::string, Room> rooms;

  std::size_t rooms_of(UserId u) const {
    std::size_t n = 0;
    for (const auto& [id, r] : rooms) n += std::count(r.members.begin(), r.members.end(), u);
    return n;
  }
  bool member(const std::string& id, UserId u) const {
    auto it = rooms.find(id);
    return it != rooms.end() && std::find(it->second.members.begin(), it->second.members.end(),
                                          u) != it->second.members.end();
  }
};

TEST(RoomManager, RandomOperationsKeepInvariantsAndMatchAModel) {
  const RoomLimits limits{3, 5, 3};
  RoomManager rooms(limits, counting_ids());
  Model model{limits, {}};
  std::mt19937 rng(20261126);
  int next_room = 0;
  auto pick = [&](auto n) { return std::uniform_int_distribution<decltype(n)>(0, n - 1)(rng); };

  for (int step = 0; step < 20000; ++step) {
    UserId user = 1 + pick(12u);
    // Mostly existing rooms, sometimes one that is gone or never existed.
    std::string room = "room-" + std::to_string(1 + pick(next_room + 2));
    int op = static_cast<int>(pick(7u));
    SCOPED_TRACE("step " + std::to_string(step) + " op " + std::to_string(op) + " user " +
                 std::to_string(user) + " room " + room);
    switch (op) {
      case 0: {  // create
        std::optional<std::size_t> max;
        if (pick(2u) == 0) max = 1 + pick(7u);
        auto r = rooms.create(user, max);
        if (model.rooms_of(user) >= limits.rooms_per_user) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::too_many_rooms);
        } else {
          ASSERT_TRUE(r.ok());
          std::string id = "room-" + std::to_string(++next_room);
          ASSERT_EQ(r.value().room_id, id);
          model.rooms[id] = {
              {user}, std::min(max.value_or(limits.default_size), limits.max_size), {}};
        }
        break;
      }
      case 1:
      case 2: {  // join
        auto r = rooms.join(user, room);
        auto it = model.rooms.find(room);
        if (it == model.rooms.end()) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::room_not_found);
        } else if (model.member(room, user)) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::already_in_room);
        } else if (it->second.members.size() >= it->second.max) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::room_full);
        } else if (model.rooms_of(user) >= limits.rooms_per_user) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::too_many_rooms);
        } else {
          ASSERT_TRUE(r.ok());
          it->second.members.push_back(user);
          EXPECT_EQ(r.value().members, it->second.members);
          EXPECT_EQ(r.value().host, it->second.members.front());
        }
        break;
      }
      case 3: {  // leave
        auto r = rooms.leave(user, room);
        auto it = model.rooms.find(room);
        if (it == model.rooms.end()) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::room_not_found);
        } else if (!model.member(room, user)) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::not_in_room);
        } else {
          ASSERT_TRUE(r.ok());
          std::erase(it->second.members, user);
          it->second.ready.erase(user);
          EXPECT_EQ(r.value().remaining, it->second.members);
          UserId host = it->second.members.empty() ? 0 : it->second.members.front();
          EXPECT_EQ(r.value().host, host);
          if (it->second.members.empty()) model.rooms.erase(it);
        }
        break;
      }
      case 4: {  // ready
        auto r = rooms.ready(user, room);
        auto it = model.rooms.find(room);
        if (it == model.rooms.end()) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::room_not_found);
        } else if (!model.member(room, user)) {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(r.error(), SignalError::not_in_room);
        } else {
          ASSERT_TRUE(r.ok());
          it->second.ready.insert(user);
          Members others;
          for (UserId m : it->second.members) {
            if (m != user) others.push_back(m);
          }
          EXPECT_EQ(r.value(), others);
        }
        break;
      }
      case 5: {  // relay check
        UserId to = 1 + pick(12u);
        auto r = rooms.check_relay(user, to, room);
        std::optional<SignalError> want;
        if (!model.rooms.contains(room)) {
          want = SignalError::room_not_found;
        } else if (!model.member(room, user)) {
          want = SignalError::not_in_room;
        } else if (!model.member(room, to)) {
          want = SignalError::peer_not_in_room;
        }
        EXPECT_EQ(r, want);
        break;
      }
      case 6: {  // disconnect, now and then
        if (pick(4u) != 0) break;
        auto departures = rooms.leave_all(user);
        std::size_t expected = model.rooms_of(user);
        EXPECT_EQ(departures.size(), expected);
        for (const auto& d : departures) {
          auto it = model.rooms.find(d.room_id);
          ASSERT_NE(it, model.rooms.end());
          std::erase(it->second.members, user);
          it->second.ready.erase(user);
          EXPECT_EQ(d.remaining, it->second.members);
          EXPECT_EQ(d.host, it->second.members.empty() ? 0 : it->second.members.front());
          if (it->second.members.empty()) model.rooms.erase(it);
        }
        break;
      }
    }
    ASSERT_TRUE(rooms.invariants_hold());
    ASSERT_EQ(rooms.room_count(), model.rooms.size());
    ASSERT_EQ(rooms.rooms_of(user), model.rooms_of(user));
    if (auto it = model.rooms.find(room); it != model.rooms.end()) {
      ASSERT_NE(rooms.members(room), nullptr);
      ASSERT_EQ(*rooms.members(room), it->second.members);
      for (UserId m : it->second.members) {
        ASSERT_EQ(rooms.is_ready(m, room), it->second.ready.contains(m));
      }
    } else {
      ASSERT_EQ(rooms.members(room), nullptr);
    }
  }
  // The run exercised real churn.
  EXPECT_GT(next_room, 100);
}

// The administrator's view (admin API): pages in id order, room details, closing.

TEST(RoomManager, PagesWalkOneHundredThousandRoomsInIdOrderExactlyOnce) {
  // Ids that sort differently from their creation order: the pages follow the ids.
  RoomManager rooms(RoomLimits{4, 6, 3}, [n = 0]() mutable {
    ++n;
    return "r" + std::to_string((n * 7919) % 100'003);
  });
  constexpr std::size_t kRooms = 100'000;
  std::set<std::string> expected;
  for (UserId u = 1; u <= kRooms; ++u) expected.insert(create_room(rooms, u));
  ASSERT_EQ(expected.size(), kRooms);

  // A page from the middle: the next ids after `after`, whatever came before.
  auto middle = std::next(expected.begin(), 50'000);
  auto page = rooms.page(*middle, 3);
  ASSERT_EQ(page.rooms.size(), 3u);
  auto want = std::next(middle);
  for (const auto& r : page.rooms) EXPECT_EQ(r.room_id, *want++);
  EXPECT_EQ(page.next, page.rooms.back().room_id);
  EXPECT_EQ(page.rooms[0].members, 1u);
  EXPECT_EQ(page.rooms[0].max_members, 4u);

  // Every room once, in order, in pages of 1000, the last saying there is no next.
  std::vector<std::string> seen;
  std::string after;
  std::size_t pages = 0;
  for (;;) {
    auto p = rooms.page(after, 1000);
    ++pages;
    ASSERT_LE(p.rooms.size(), 1000u);
    for (auto& r : p.rooms) seen.push_back(std::move(r.room_id));
    if (!p.next) break;
    after = *p.next;
    ASSERT_LE(pages, kRooms / 1000) << "the walk does not end";
  }
  EXPECT_EQ(pages, kRooms / 1000);
  EXPECT_EQ(seen, std::vector<std::string>(expected.begin(), expected.end()));
  // After the last id, or past every id, nothing.
  EXPECT_TRUE(rooms.page(*expected.rbegin(), 10).rooms.empty());
  EXPECT_FALSE(rooms.page(*expected.rbegin(), 10).next.has_value());
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, TheOrderedIndexFollowsRoomsAsTheyEnd) {
  auto rooms = make();
  std::string a = create_room(rooms, 1);  // room-1
  std::string b = create_room(rooms, 2);  // room-2
  std::string c = create_room(rooms, 3);  // room-3
  ASSERT_TRUE(rooms.leave(2, b).ok());    // empty: gone
  ASSERT_TRUE(rooms.close(c).has_value());
  auto page = rooms.page("", 10);
  ASSERT_EQ(page.rooms.size(), 1u);
  EXPECT_EQ(page.rooms[0].room_id, a);
  EXPECT_FALSE(page.next.has_value());
  // A page that ends exactly at the last room has no next either.
  EXPECT_FALSE(rooms.page("", 1).next.has_value());
  EXPECT_TRUE(rooms.invariants_hold());
}

TEST(RoomManager, DetailListsMembersAndTheReadyInJoinOrder) {
  auto rooms = make();
  std::string id = create_room(rooms, 5, 3);
  ASSERT_TRUE(rooms.join(7, id).ok());
  ASSERT_TRUE(rooms.join(6, id).ok());
  ASSERT_TRUE(rooms.ready(6, id).ok());
  ASSERT_TRUE(rooms.ready(5, id).ok());
  auto d = rooms.detail(id);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->room_id, id);
  EXPECT_EQ(d->host, 5u);
  EXPECT_EQ(d->members, (Members{5, 7, 6}));
  EXPECT_EQ(d->ready, (Members{5, 6}));
  EXPECT_EQ(d->max_members, 3u);
  EXPECT_FALSE(rooms.detail("room-9").has_value());
}

TEST(RoomManager, CloseRemovesTheRoomAndEveryMembershipAtOnce) {
  auto rooms = make();
  std::string id = create_room(rooms, 1);
  std::string other = create_room(rooms, 2);
  ASSERT_TRUE(rooms.join(2, id).ok());
  ASSERT_TRUE(rooms.join(3, id).ok());
  auto members = rooms.close(id);
  ASSERT_TRUE(members.has_value());
  EXPECT_EQ(*members, (Members{1, 2, 3}));
  EXPECT_EQ(rooms.members(id), nullptr);
  EXPECT_EQ(rooms.rooms_of(1), 0u);
  EXPECT_EQ(rooms.rooms_of(2), 1u);  // still in its own room
  EXPECT_EQ(rooms.rooms_of(3), 0u);
  EXPECT_EQ(rooms.join(3, id).error(), SignalError::room_not_found);
  EXPECT_FALSE(rooms.close(id).has_value());
  EXPECT_NE(rooms.members(other), nullptr);
  EXPECT_TRUE(rooms.invariants_hold());
}

}  // namespace
}  // namespace switchboard
