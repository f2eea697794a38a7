#include "switchboard/net/connection_limiter.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <vector>

namespace switchboard {
namespace {

using SlotPtr = std::unique_ptr<ConnectionLimiter::Slot>;

TEST(ConnectionLimiter, PerAddressBound) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 2);
  auto a1 = limiter->try_acquire("10.0.0.1");
  auto a2 = limiter->try_acquire("10.0.0.1");
  ASSERT_NE(a1, nullptr);
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(limiter->try_acquire("10.0.0.1"), nullptr);
  // Another address is not affected.
  auto b1 = limiter->try_acquire("10.0.0.2");
  EXPECT_NE(b1, nullptr);
  EXPECT_EQ(limiter->open(), 3u);
}

TEST(ConnectionLimiter, TotalBound) {
  auto limiter = std::make_shared<ConnectionLimiter>(3, 2);
  std::vector<SlotPtr> slots;
  for (const char* address : {"a", "b", "c"}) {
    slots.push_back(limiter->try_acquire(address));
    ASSERT_NE(slots.back(), nullptr) << address;
  }
  EXPECT_EQ(limiter->try_acquire("d"), nullptr);
  EXPECT_EQ(limiter->try_acquire("a"), nullptr);
  EXPECT_EQ(limiter->open(), 3u);
}

TEST(ConnectionLimiter, TrustedProxyIsExemptFromThePerAddressBoundOnly) {
  auto limiter = std::make_shared<ConnectionLimiter>(4, 1);
  std::vector<SlotPtr> slots;
  for (int i = 0; i < 3; ++i) {
    slots.push_back(limiter->try_acquire("proxy", false));
    ASSERT_NE(slots.back(), nullptr) << i;
  }
  // The exemption is per call: a bounded acquire from the same address is refused.
  EXPECT_EQ(limiter->try_acquire("proxy"), nullptr);
  slots.push_back(limiter->try_acquire("client"));
  ASSERT_NE(slots.back(), nullptr);
  // The total still applies to the proxy.
  EXPECT_EQ(limiter->try_acquire("proxy", false), nullptr);
  EXPECT_EQ(limiter->open(), 4u);
  slots.clear();
  EXPECT_EQ(limiter->open(), 0u);
  EXPECT_NE(limiter->try_acquire("proxy"), nullptr);
}

TEST(ConnectionLimiter, RefusalsDoNotHoldSlots) {
  auto limiter = std::make_shared<ConnectionLimiter>(2, 1);
  auto a = limiter->try_acquire("a");
  ASSERT_NE(a, nullptr);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter->try_acquire("a"), nullptr);
  EXPECT_EQ(limiter->open(), 1u);
  auto b = limiter->try_acquire("b");
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(limiter->open(), 2u);
}

TEST(ConnectionLimiter, ReleasingASlotFreesIt) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 1);
  auto a = limiter->try_acquire("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(limiter->try_acquire("a"), nullptr);
  a.reset();
  EXPECT_EQ(limiter->open(), 0u);
  auto again = limiter->try_acquire("a");
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(limiter->open(), 1u);
}

TEST(ConnectionLimiter, ReleasingFreesTheTotalToo) {
  auto limiter = std::make_shared<ConnectionLimiter>(1, 5);
  auto a = limiter->try_acquire("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(limiter->try_acquire("b"), nullptr);
  a.reset();
  EXPECT_NE(limiter->try_acquire("b"), nullptr);
}

TEST(ConnectionLimiter, MovedSlotReleasesOnce) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 2);
  auto a = limiter->try_acquire("a");
  auto keep = limiter->try_acquire("a");
  ASSERT_TRUE(a && keep);
  {
    ConnectionLimiter::Slot moved(std::move(*a));
    a.reset();  // the moved-from slot releases nothing
    EXPECT_EQ(limiter->open(), 2u);
  }
  EXPECT_EQ(limiter->open(), 1u);
  keep.reset();
  EXPECT_EQ(limiter->open(), 0u);
}

TEST(ConnectionLimiter, OnIdleFiresWhenTheLastSlotGoes) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 10);
  int idle = 0;
  limiter->on_idle([&] { ++idle; });
  auto a = limiter->try_acquire("a");
  auto b = limiter->try_acquire("b");
  auto c = limiter->try_acquire("b");
  ASSERT_TRUE(a && b && c);
  a.reset();
  b.reset();
  EXPECT_EQ(idle, 0);
  c.reset();
  EXPECT_EQ(idle, 1);
  // Busy and idle again.
  auto d = limiter->try_acquire("d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(idle, 1);
  d.reset();
  EXPECT_EQ(idle, 2);
}

TEST(ConnectionLimiter, OnIdleMayInspectTheLimiter) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 10);
  std::size_t open_when_idle = 99;
  // The callback runs without the lock held, so it may call back in.
  limiter->on_idle([&] { open_when_idle = limiter->open(); });
  auto a = limiter->try_acquire("a");
  a.reset();
  EXPECT_EQ(open_when_idle, 0u);
}

TEST(ConnectionLimiter, SlotKeepsTheLimiterAlive) {
  auto limiter = std::make_shared<ConnectionLimiter>(10, 10);
  std::weak_ptr<ConnectionLimiter> weak = limiter;
  auto a = limiter->try_acquire("a");
  limiter.reset();
  EXPECT_FALSE(weak.expired());
  a.reset();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace switchboard
