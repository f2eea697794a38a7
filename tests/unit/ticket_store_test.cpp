#include "switchboard/auth/ticket_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

namespace switchboard {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;
  SteadyNow fn() {
    return [this] { return now; };
  }
};

Identity alice(const std::string& key_hash = "alice-key") {
  return {1, "alice", key_hash};
}
Identity bob(const std::string& key_hash = "bob-key") {
  return {2, "bob", key_hash};
}

TEST(TicketStore, RedeemReturnsTheIdentity) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto ticket = store.issue(alice());
  ASSERT_TRUE(ticket.has_value());
  auto who = store.redeem(*ticket);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->user_id, 1u);
  EXPECT_EQ(who->username, "alice");
  EXPECT_EQ(who->key_hash, "alice-key");
}

TEST(TicketStore, TicketIsAnUnguessableToken) {
  FakeClock clock;
  TicketStore store(30s, 1000, clock.fn());
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto t = store.issue(alice());
    ASSERT_TRUE(t.has_value());
    EXPECT_GE(t->size(), 22u);  // at least 128 bits as base64url
    seen.insert(*t);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(TicketStore, TicketIsSingleUse) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto ticket = store.issue(alice());
  ASSERT_TRUE(ticket.has_value());
  ASSERT_TRUE(store.redeem(*ticket).has_value());
  EXPECT_FALSE(store.redeem(*ticket).has_value());
}

TEST(TicketStore, UnknownOrAlteredTicketIsRefused) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto ticket = store.issue(alice());
  ASSERT_TRUE(ticket.has_value());
  std::string altered = *ticket;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(store.redeem(altered).has_value());
  EXPECT_FALSE(store.redeem("").has_value());
  EXPECT_FALSE(store.redeem(ticket->substr(1)).has_value());
  // The genuine one still works.
  EXPECT_TRUE(store.redeem(*ticket).has_value());
}

TEST(TicketStore, ExpiresExactlyAtTtl) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto early = store.issue(alice());
  auto late = store.issue(alice());
  ASSERT_TRUE(early && late);
  clock.now += 30s - 1ms;
  EXPECT_TRUE(store.redeem(*early).has_value());
  clock.now += 1ms;
  EXPECT_FALSE(store.redeem(*late).has_value());
}

TEST(TicketStore, ExpiredTicketStaysSpent) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto ticket = store.issue(alice());
  ASSERT_TRUE(ticket.has_value());
  clock.now += 31s;
  EXPECT_FALSE(store.redeem(*ticket).has_value());
  // Even if the clock were to read earlier again, the ticket is gone.
  clock.now -= 31s;
  EXPECT_FALSE(store.redeem(*ticket).has_value());
}

TEST(TicketStore, TtlIsReported) {
  TicketStore store(45s);
  EXPECT_EQ(store.ttl(), 45s);
}

TEST(TicketStore, RevokeAffectsOnlyThatUsersKey) {
  FakeClock clock;
  TicketStore store(30s, 100, clock.fn());
  auto old_key = store.issue(alice("old"));
  auto old_key2 = store.issue(alice("old"));
  auto new_key = store.issue(alice("new"));
  // Another user who happens to carry the same hash string must not be touched.
  auto other_user = store.issue(bob("old"));
  ASSERT_TRUE(old_key && old_key2 && new_key && other_user);

  store.revoke(1, "old");
  EXPECT_FALSE(store.redeem(*old_key).has_value());
  EXPECT_FALSE(store.redeem(*old_key2).has_value());
  auto n = store.redeem(*new_key);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->key_hash, "new");
  auto o = store.redeem(*other_user);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->user_id, 2u);
}

TEST(TicketStore, MaxTicketsBoundsUnexpiredTickets) {
  FakeClock clock;
  TicketStore store(30s, 2, clock.fn());
  auto a = store.issue(alice());
  auto b = store.issue(bob());
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(store.issue(alice()).has_value());
  // The existing ones are unaffected by the refusal.
  EXPECT_TRUE(store.redeem(*a).has_value());
  // Redeeming freed a place.
  auto c = store.issue(alice());
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(store.issue(alice()).has_value());
}

TEST(TicketStore, ExpiredTicketsMakeRoom) {
  FakeClock clock;
  TicketStore store(30s, 2, clock.fn());
  ASSERT_TRUE(store.issue(alice()).has_value());
  ASSERT_TRUE(store.issue(alice()).has_value());
  ASSERT_FALSE(store.issue(alice()).has_value());
  clock.now += 30s;
  auto fresh = store.issue(bob());
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(store.redeem(*fresh).has_value());
}

}  // namespace
}  // namespace switchboard
