// RedisRoomDirectory against a real redis-server: RoomManager's rules, decided in Redis so that
// concurrent joins from several connections never pass a room's limit.
#include "switchboard/cluster/redis_room_directory.hpp"

#include <future>
#include <mutex>

#include "redis_room_fixture.hpp"

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

}  // namespace
}  // namespace switchboard
