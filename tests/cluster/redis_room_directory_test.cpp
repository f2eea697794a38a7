// RedisRoomDirectory against a real redis-server: RoomManager's rules, decided in Redis so that
// concurrent joins from several connections never pass a room's limit.
#include "switchboard/cluster/redis_room_directory.hpp"

#include <future>
#include <mutex>

#include "redis_room_fixture.hpp"
#include "support/redis_room_invariants.hpp"

namespace switchboard {
namespace {

using test::describe;
using test::kWait;
using test::RedisRoomDirectoryTest;
using test::wait;

TEST_F(RedisRoomDirectoryTest, FortyConcurrentJoinsFromSeveralConnectionsAdmitExactlySixteen) {
  RedisRoomDirectory creator(client(), limits_);
  auto room = wait<RedisRoomDirectory::Membership>([&](auto done) { creator.create(1, 16, done); });
  ASSERT_TRUE(room.ok()) << describe(room.error());
  const std::string id = room.value().room_id;

  // Four connections, as four daemons would be; each fires its ten joins without waiting.
  std::vector<std::unique_ptr<RedisRoomDirectory>> daemons;
  for (int d = 0; d < 4; ++d)
    daemons.push_back(std::make_unique<RedisRoomDirectory>(client(), limits_));
  std::mutex mutex;
  int admitted = 0, full = 0, other = 0;
  auto all = std::make_shared<std::promise<void>>();
  int answered = 0;
  for (UserId u = 2; u < 42; ++u) {
    daemons[u % 4]->join(u, id,
                         [&, all](Result<RedisRoomDirectory::Membership, RoomDirectoryError> r) {
                           std::lock_guard lock(mutex);
                           if (r.ok()) {
                             ++admitted;
                           } else if (std::holds_alternative<SignalError>(r.error()) &&
                                      std::get<SignalError>(r.error()) == SignalError::room_full) {
                             ++full;
                           } else {
                             ++other;
                           }
                           if (++answered == 40) all->set_value();
                         });
  }
  ASSERT_EQ(all->get_future().wait_for(kWait), std::future_status::ready);
  std::lock_guard lock(mutex);
  EXPECT_EQ(admitted, 15);  // the creator is the 16th
  EXPECT_EQ(full, 25);
  EXPECT_EQ(other, 0);

  auto members = wait<std::vector<UserId>>([&](auto done) { creator.ready(1, id, done); });
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members.value().size(), 15U);
}

TEST_F(RedisRoomDirectoryTest, LeavingHandsTheHostOverInJoinOrder) {
  RedisRoomDirectory rooms(client(), limits_);
  auto room =
      wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(7, std::nullopt, done); });
  ASSERT_TRUE(room.ok());
  const std::string id = room.value().room_id;
  EXPECT_EQ(room.value().host, 7U);
  for (UserId u : {3, 9}) {
    auto j = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(u, id, done); });
    ASSERT_TRUE(j.ok()) << describe(j.error());
    EXPECT_EQ(j.value().host, 7U);
  }
  auto j = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(5, id, done); });
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.value().members, (std::vector<UserId>{7, 3, 9, 5}));  // join order, not id order

  auto d1 = wait<RedisRoomDirectory::Departure>([&](auto done) { rooms.leave(7, id, done); });
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1.value().host, 3U);
  EXPECT_EQ(d1.value().remaining, (std::vector<UserId>{3, 9, 5}));
  auto d2 = wait<RedisRoomDirectory::Departure>([&](auto done) { rooms.leave(3, id, done); });
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2.value().host, 9U);
  for (UserId u : {9, 5}) {
    auto d = wait<RedisRoomDirectory::Departure>([&](auto done) { rooms.leave(u, id, done); });
    ASSERT_TRUE(d.ok());
  }
  // The last one out removes the room.
  auto gone = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(3, id, done); });
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(std::get<SignalError>(gone.error()), SignalError::room_not_found);
}

TEST_F(RedisRoomDirectoryTest, TheRulesAnswerAsRoomManagerDoes) {
  auto redis = client();
  RedisRoomDirectory rooms(redis, limits_);
  auto a = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 2, done); });
  ASSERT_TRUE(a.ok());
  const std::string id = a.value().room_id;
  auto error_of = [](const auto& r) {
    return r.ok() ? SignalError::bad_json : std::get<SignalError>(r.error());
  };

  EXPECT_EQ(
      error_of(wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(1, id, done); })),
      SignalError::already_in_room);
  EXPECT_EQ(error_of(wait<RedisRoomDirectory::Membership>(
                [&](auto done) { rooms.join(2, "nope", done); })),
            SignalError::room_not_found);
  EXPECT_EQ(
      error_of(wait<RedisRoomDirectory::Departure>([&](auto done) { rooms.leave(2, id, done); })),
      SignalError::not_in_room);
  EXPECT_EQ(error_of(wait<std::vector<UserId>>([&](auto done) { rooms.ready(2, id, done); })),
            SignalError::not_in_room);
  // Rooms per user is 2 here.
  ASSERT_TRUE(
      wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 2, done); }).ok());
  EXPECT_EQ(
      error_of(wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 2, done); })),
      SignalError::too_many_rooms);

  // Redis forgets its scripts (restart, SCRIPT FLUSH): EVAL takes over and loads them again.
  auto flushed = std::make_shared<std::promise<void>>();
  redis->command({"SCRIPT", "FLUSH"}, [flushed](RedisClient::Reply) { flushed->set_value(); });
  ASSERT_EQ(flushed->get_future().wait_for(kWait), std::future_status::ready);
  auto j = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(2, id, done); });
  ASSERT_TRUE(j.ok()) << describe(j.error());
  EXPECT_EQ(j.value().members, (std::vector<UserId>{1, 2}));
  auto others = wait<std::vector<UserId>>([&](auto done) { rooms.ready(2, id, done); });
  ASSERT_TRUE(others.ok());
  EXPECT_EQ(others.value(), (std::vector<UserId>{1}));
}

TEST_F(RedisRoomDirectoryTest, ATakenRoomIdIsDrawnAgain) {
  auto ids = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"b", "a", "a"});
  RedisRoomDirectory rooms(client(), limits_, [ids] {
    auto id = ids->back();
    ids->pop_back();
    return id;
  });
  auto first = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 4, done); });
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value().room_id, "a");
  auto second = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(2, 4, done); });
  ASSERT_TRUE(second.ok()) << describe(second.error());
  EXPECT_EQ(second.value().room_id, "b");
  EXPECT_EQ(second.value().members, (std::vector<UserId>{2}));
}

TEST_F(RedisRoomDirectoryTest, RedisDownIsUnavailable) {
  RedisRoomDirectory rooms(client(), limits_);
  server_.stop();
  auto r = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 2, done); });
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(std::holds_alternative<RedisError>(r.error()));
  EXPECT_EQ(std::get<RedisError>(r.error()).code, RedisError::Code::unavailable);
}

/// Sends a raw command and waits for its reply (setting up or damaging state by hand).
RedisReply send(RedisClient& redis, std::vector<std::string> command) {
  auto p = std::make_shared<std::promise<RedisReply>>();
  auto f = p->get_future();
  redis.command(std::move(command), [p](RedisClient::Reply r) {
    p->set_value(r.ok() ? r.value()
                        : RedisReply{RedisReply::Type::error, 0, r.error().message, {}});
  });
  if (f.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no reply within the bound";
    return {};
  }
  return f.get();
}

TEST_F(RedisRoomDirectoryTest, LeaveAllLeavesEveryRoomInEntryOrderAndHandsEachOver) {
  RedisRoomDirectory rooms(client(), limits_);
  auto r1 = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 4, done); });
  auto r2 = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(2, 4, done); });
  ASSERT_TRUE(r1.ok() && r2.ok());
  const std::string a = r1.value().room_id, b = r2.value().room_id;
  for (const auto& step : {std::pair<UserId, std::string>{1, b}, {3, a}}) {
    ASSERT_TRUE(wait<RedisRoomDirectory::Membership>([&](auto done) {
                  rooms.join(step.first, step.second, done);
                }).ok());
  }
  ASSERT_TRUE(wait<std::vector<UserId>>([&](auto done) { rooms.ready(1, a, done); }).ok());

  auto mine = wait<std::vector<RedisRoomDirectory::Membership>>(
      [&](auto done) { rooms.memberships(1, done); });
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine.value().size(), 2U);
  EXPECT_EQ(mine.value()[0].room_id, a);  // the order user 1 entered them
  EXPECT_EQ(mine.value()[1].members, (std::vector<UserId>{2, 1}));

  auto gone = wait<std::vector<RedisRoomDirectory::Departure>>(
      [&](auto done) { rooms.leave_all(1, done); });
  ASSERT_TRUE(gone.ok()) << describe(gone.error());
  ASSERT_EQ(gone.value().size(), 2U);
  EXPECT_EQ(gone.value()[0].room_id, a);
  EXPECT_EQ(gone.value()[0].host, 3U);  // handed over to the next in join order
  EXPECT_EQ(gone.value()[0].remaining, (std::vector<UserId>{3}));
  EXPECT_EQ(gone.value()[1].room_id, b);
  EXPECT_EQ(gone.value()[1].host, 2U);
  auto ready = wait<bool>([&](auto done) { rooms.is_ready(1, a, done); });
  ASSERT_TRUE(ready.ok());
  EXPECT_FALSE(ready.value());  // ready goes with the membership
  auto none = wait<std::vector<RedisRoomDirectory::Departure>>(
      [&](auto done) { rooms.leave_all(1, done); });
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());

  // The last member's leave_all deletes the room: no key of it is left.
  ASSERT_TRUE(wait<std::vector<RedisRoomDirectory::Departure>>([&](auto done) {
                rooms.leave_all(3, done);
              }).ok());
  auto members =
      wait<std::optional<std::vector<UserId>>>([&](auto done) { rooms.members(a, done); });
  ASSERT_TRUE(members.ok());
  EXPECT_FALSE(members.value().has_value());
  EXPECT_EQ(send(*clients_.front(), {"KEYS", "sb:room:{" + a + "}*"}).elements.size(), 0U);
  EXPECT_EQ(test::redis_room_problems(*clients_.front(), limits_), "");
}

TEST_F(RedisRoomDirectoryTest, TheAdminViewPagesInIdOrderAndCloseRemovesEveryMembership) {
  auto ids = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"c", "a", "b"});
  RedisRoomDirectory rooms(client(), limits_, [ids] {
    auto id = ids->back();
    ids->pop_back();
    return id;
  });
  for (UserId u : {1, 2, 3}) {  // rooms b, a, c
    ASSERT_TRUE(
        wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(u, 5, done); }).ok());
  }
  ASSERT_TRUE(
      wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(3, "a", done); }).ok());
  ASSERT_TRUE(wait<std::vector<UserId>>([&](auto done) { rooms.ready(3, "a", done); }).ok());

  auto first = wait<RoomManager::Page>([&](auto done) { rooms.page("", 2, done); });
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first.value().rooms.size(), 2U);
  EXPECT_EQ(first.value().rooms[0].room_id, "a");
  EXPECT_EQ(first.value().rooms[0].host, 2U);
  EXPECT_EQ(first.value().rooms[0].members, 2U);
  EXPECT_EQ(first.value().rooms[0].max_members, 5U);
  EXPECT_EQ(first.value().rooms[1].room_id, "b");
  EXPECT_EQ(first.value().next, std::optional<std::string>("b"));
  auto last = wait<RoomManager::Page>([&](auto done) { rooms.page("b", 2, done); });
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last.value().rooms.size(), 1U);
  EXPECT_EQ(last.value().rooms[0].room_id, "c");
  EXPECT_FALSE(last.value().next.has_value());

  auto a = wait<std::optional<RoomManager::Detail>>([&](auto done) { rooms.detail("a", done); });
  ASSERT_TRUE(a.ok() && a.value());
  EXPECT_EQ(a.value()->members, (std::vector<UserId>{2, 3}));
  EXPECT_EQ(a.value()->ready, (std::vector<UserId>{3}));

  auto closed = wait<std::optional<std::vector<UserId>>>(
      [&](auto done) { rooms.close("a", "closed", done); });
  ASSERT_TRUE(closed.ok() && closed.value());
  EXPECT_EQ(*closed.value(), (std::vector<UserId>{2, 3}));
  auto again = wait<std::optional<std::vector<UserId>>>(
      [&](auto done) { rooms.close("a", "closed", done); });
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().has_value());
  auto gone = wait<std::optional<RoomManager::Detail>>([&](auto done) { rooms.detail("a", done); });
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone.value().has_value());
  // User 3 keeps room c alone; user 2 has no room left, so no key either.
  auto of3 = wait<std::vector<RedisRoomDirectory::Membership>>(
      [&](auto done) { rooms.memberships(3, done); });
  ASSERT_TRUE(of3.ok());
  ASSERT_EQ(of3.value().size(), 1U);
  EXPECT_EQ(of3.value()[0].room_id, "c");
  EXPECT_EQ(send(*clients_.front(), {"EXISTS", "sb:user:2:rooms"}).integer, 0);
  auto all = wait<RoomManager::Page>([&](auto done) { rooms.page("", 10, done); });
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().rooms.size(), 2U);
  EXPECT_EQ(all.value().rooms[0].room_id, "b");
  EXPECT_EQ(test::redis_room_problems(*clients_.front(), limits_), "");
}

TEST_F(RedisRoomDirectoryTest, TheInvariantCheckerSeesDamage) {
  auto redis = client();
  RedisRoomDirectory rooms(redis, limits_);
  auto r = wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.create(1, 4, done); });
  ASSERT_TRUE(r.ok());
  const std::string id = r.value().room_id;
  ASSERT_TRUE(
      wait<RedisRoomDirectory::Membership>([&](auto done) { rooms.join(2, id, done); }).ok());
  ASSERT_EQ(test::redis_room_problems(*redis, limits_), "");

  send(*redis, {"ZREM", "sb:user:2:rooms", id});
  send(*redis, {"ZREM", "sb:rooms", id});
  send(*redis, {"SADD", "sb:room:{" + id + "}:ready", "9"});
  send(*redis, {"ZADD", "sb:user:5:rooms", "1", "elsewhere"});
  std::string problems = test::redis_room_problems(*redis, limits_);
  EXPECT_NE(problems.find("member 2 lacks it"), std::string::npos) << problems;
  EXPECT_NE(problems.find("missing from sb:rooms"), std::string::npos) << problems;
  EXPECT_NE(problems.find("9 is ready but not a member"), std::string::npos) << problems;
  EXPECT_NE(problems.find("user 5 lists room elsewhere"), std::string::npos) << problems;
}

TEST_F(RedisRoomDirectoryTest, LeaveAllRacingJoinsKeepsEveryInvariant) {
  // One connection joins users 2..41 into a room of 8 while another makes each of them leave
  // all their rooms: whatever the interleaving, the room never passes 8, every membership
  // has its user-room entry, and every join admitted is either still there or came back as a
  // departure from leave_all.
  auto setup = client();
  RedisRoomDirectory admin(setup, limits_);
  auto a = wait<RedisRoomDirectory::Membership>([&](auto done) { admin.create(1, 8, done); });
  auto b = wait<RedisRoomDirectory::Membership>([&](auto done) { admin.create(100, 64, done); });
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string room = a.value().room_id, other = b.value().room_id;
  // Everyone is in a second room too, which leave_all leaves and which stays (100 holds it).
  for (UserId u = 2; u < 42; ++u) {
    ASSERT_TRUE(
        wait<RedisRoomDirectory::Membership>([&](auto done) { admin.join(u, other, done); }).ok());
  }

  RedisRoomDirectory joiner(client(), limits_), leaver(client(), limits_);
  std::mutex mutex;
  int admitted = 0, full = 0, departed = 0, answered = 0;
  std::vector<std::string> odd;
  int already = 0;
  for (int round = 0; round < 2; ++round) {
    auto all = std::make_shared<std::promise<void>>();
    {
      std::lock_guard lock(mutex);
      answered = 0;
    }
    for (UserId u = 2; u < 42; ++u) {
      joiner.join(u, room, [&, all](Result<RedisRoomDirectory::Membership, RoomDirectoryError> r) {
        std::lock_guard lock(mutex);
        if (r.ok()) {
          ++admitted;
          if (r.value().members.size() > 8) odd.push_back("a join saw more than 8");
        } else if (std::get_if<SignalError>(&r.error()) &&
                   std::get<SignalError>(r.error()) == SignalError::room_full) {
          ++full;
        } else if (std::get_if<SignalError>(&r.error()) &&
                   std::get<SignalError>(r.error()) == SignalError::already_in_room) {
          ++already;  // the second round: still in from the first
        } else {
          odd.push_back("join: " + describe(r.error()));
        }
        if (++answered == 80) all->set_value();
      });
      leaver.leave_all(
          u, [&, all](Result<std::vector<RedisRoomDirectory::Departure>, RoomDirectoryError> r) {
            std::lock_guard lock(mutex);
            if (!r.ok()) {
              odd.push_back("leave_all: " + describe(r.error()));
            } else {
              for (const auto& d : r.value()) {
                if (d.room_id == room) ++departed;
                if (d.room_id != room && d.room_id != other) odd.push_back("left " + d.room_id);
                if (d.host == 0) odd.push_back("a departure emptied " + d.room_id);
              }
            }
            if (++answered == 80) all->set_value();
          });
    }
    ASSERT_EQ(all->get_future().wait_for(kWait), std::future_status::ready);
  }

  std::lock_guard lock(mutex);
  EXPECT_EQ(odd, std::vector<std::string>{});
  EXPECT_GT(admitted, 0);
  EXPECT_EQ(admitted + full + already, 80);
  auto members =
      wait<std::optional<std::vector<UserId>>>([&](auto done) { admin.members(room, done); });
  ASSERT_TRUE(members.ok() && members.value());
  EXPECT_LE(members.value()->size(), 8U);
  EXPECT_EQ(members.value()->front(), 1U);  // the creator stayed host throughout
  EXPECT_EQ(static_cast<int>(members.value()->size()), 1 + admitted - departed);
  EXPECT_EQ(test::redis_room_problems(*setup, limits_), "");
}

}  // namespace
}  // namespace switchboard
