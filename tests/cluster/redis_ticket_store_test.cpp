// The cluster's /ws tickets against a real redis-server: issued by one daemon's store and
// redeemed by another's, spent exactly once however many race for it, gone after the ttl,
// nothing usable left in Redis, and TicketsUnavailable (not a crash or a hang) without Redis.
#include "switchboard/cluster/redis_ticket_store.hpp"

#include <gtest/gtest.h>

#include "support/redis_fixture.hpp"
#include "switchboard/auth/api_key.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using test::await_answer;
using Issued = Result<std::string, TicketsUnavailable>;
using Redeemed = Result<std::optional<Identity>, TicketsUnavailable>;

class RedisTicketStoreTest : public test::RedisFixture {
 protected:
  std::string issue(RedisTicketStore& store, const Identity& who) {
    auto r = await_answer<Issued>([&](auto done) { store.issue(who, std::move(done)); });
    if (!r.ok()) throw std::runtime_error("ticket not issued");
    return r.value();
  }
  Redeemed redeem(RedisTicketStore& store, const std::string& ticket) {
    return await_answer<Redeemed>([&](auto done) { store.redeem(ticket, std::move(done)); });
  }

  const Identity alice_{7, "alice", hash_api_key("alice's key")};
};

TEST_F(RedisTicketStoreTest, ATicketFromOneDaemonOpensOnAnotherOnce) {
  RedisTicketStore here(client(), 30s);
  RedisTicketStore there(client(), 30s);
  std::string ticket = issue(here, alice_);
  EXPECT_GE(ticket.size(), 43u) << "at least 256 random bits";

  auto first = redeem(there, ticket);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first.value().has_value());
  EXPECT_EQ(first.value()->user_id, alice_.user_id);
  EXPECT_EQ(first.value()->username, alice_.username);
  EXPECT_EQ(first.value()->key_hash, alice_.key_hash);

  auto again = redeem(here, ticket);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().has_value()) << "a ticket is single-use, on every daemon";
}

TEST_F(RedisTicketStoreTest, RedisHoldsNoUsableTicketAndForgetsItAfterTheTtl) {
  auto c = client();
  RedisTicketStore store(c, 1s);
  std::string ticket = issue(store, alice_);
  auto keys = command(c, {"KEYS", "sb:ticket:*"});
  ASSERT_EQ(keys.elements.size(), 1u);
  EXPECT_EQ(keys.elements[0].str.find(ticket), std::string::npos) << "stored under a hash";
  EXPECT_EQ(keys.elements[0].str, "sb:ticket:" + hash_api_key(ticket));
  auto pttl = command(c, {"PTTL", keys.elements[0].str});
  EXPECT_GT(pttl.integer, 0);
  EXPECT_LE(pttl.integer, 1000) << "expires with the ticket ttl";
}

TEST_F(RedisTicketStoreTest, UnknownMalformedAndForeignValuesAreNoTicket) {
  auto c = client();
  RedisTicketStore store(c, 30s);
  auto unknown = redeem(store, "no-such-ticket");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown.value().has_value());
  // A value that is not an identity (written by something else) is refused, not trusted.
  for (std::string bad : {"", "7", "7\nhash", "x\nhash\nname", "0\nhash\nname"}) {
    std::string ticket = "planted-" + std::to_string(bad.size());
    command(c, {"SET", "sb:ticket:" + hash_api_key(ticket), bad});
    auto r = redeem(store, ticket);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.value().has_value()) << "value: " << bad;
  }
  // A key of another type answers an error from GETDEL: unavailable, not a crash.
  command(c, {"RPUSH", "sb:ticket:" + hash_api_key("a-list"), "x"});
  EXPECT_FALSE(redeem(store, "a-list").ok());
}

TEST_F(RedisTicketStoreTest, RacingRedeemsSpendATicketExactlyOnce) {
  std::vector<std::unique_ptr<RedisTicketStore>> daemons;
  for (int i = 0; i < 3; ++i) daemons.push_back(std::make_unique<RedisTicketStore>(client(), 30s));
  for (int round = 0; round < 20; ++round) {
    std::string ticket = issue(*daemons[0], alice_);
    auto wins = std::make_shared<test::Inbox<bool>>();
    for (auto& d : daemons) {
      d->redeem(ticket, [wins](Redeemed r) { wins->push(r.ok() && r.value().has_value()); });
    }
    int won = 0;
    for (std::size_t i = 0; i < daemons.size(); ++i) {
      auto w = wins->next();
      ASSERT_TRUE(w.has_value()) << "a redeem was never answered";
      won += *w ? 1 : 0;
    }
    EXPECT_EQ(won, 1) << "round " << round;
  }
}

TEST_F(RedisTicketStoreTest, WithoutRedisTicketsAreUnavailableAndComeBackWithIt) {
  auto states = std::make_shared<test::Inbox<bool>>();
  RedisTicketStore store(client(states), 30s);
  server_.stop();
  ASSERT_EQ(states->next(), std::optional<bool>(false));
  auto issued = await_answer<Issued>([&](auto done) { store.issue(alice_, std::move(done)); });
  EXPECT_FALSE(issued.ok());
  EXPECT_FALSE(redeem(store, "whatever").ok());
  server_.start();
  ASSERT_EQ(states->next(), std::optional<bool>(true));
  std::string ticket = issue(store, alice_);
  auto r = redeem(store, ticket);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().has_value());
}

}  // namespace
}  // namespace switchboard
