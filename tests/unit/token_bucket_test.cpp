#include "switchboard/signaling/token_bucket.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

const Clock::time_point t0 = Clock::time_point{} + 1000h;

int drain(TokenBucket& bucket, Clock::time_point at, int limit = 100000) {
  int taken = 0;
  while (taken < limit && bucket.try_take(at)) ++taken;
  return taken;
}

TEST(TokenBucket, BurstThenRefused) {
  TokenBucket bucket(10, 5);
  EXPECT_EQ(drain(bucket, t0), 5);
  EXPECT_FALSE(bucket.try_take(t0));
}

// Time steps are binary fractions of a second so that the token arithmetic is exact.
TEST(TokenBucket, RefillsAtTheRate) {
  TokenBucket bucket(4, 5);  // one token every 250 ms
  ASSERT_EQ(drain(bucket, t0), 5);
  EXPECT_FALSE(bucket.try_take(t0 + 125ms));
  EXPECT_TRUE(bucket.try_take(t0 + 250ms));
  EXPECT_FALSE(bucket.try_take(t0 + 250ms));
  // Another 750 ms: three more.
  EXPECT_EQ(drain(bucket, t0 + 1000ms), 3);
}

TEST(TokenBucket, RefillIsCappedAtBurst) {
  TokenBucket bucket(10, 5);
  ASSERT_EQ(drain(bucket, t0), 5);
  EXPECT_EQ(drain(bucket, t0 + 1h), 5);
}

TEST(TokenBucket, FractionalRefillAccumulates) {
  TokenBucket bucket(2, 1);  // one token every 500 ms
  ASSERT_TRUE(bucket.try_take(t0));
  EXPECT_FALSE(bucket.try_take(t0 + 250ms));
  EXPECT_TRUE(bucket.try_take(t0 + 500ms));
  EXPECT_FALSE(bucket.try_take(t0 + 750ms));
  EXPECT_TRUE(bucket.try_take(t0 + 1000ms));
}

TEST(TokenBucket, ProtocolDefaultsAllowACandidateStorm) {
  // protocol.md: a real client can burst at least 500 messages and sustain 100 per second.
  TokenBucket bucket(100, 500);
  EXPECT_EQ(drain(bucket, t0), 500);
  for (int second = 1; second <= 10; ++second) {
    EXPECT_EQ(drain(bucket, t0 + std::chrono::seconds(second)), 100) << "second " << second;
  }
}

TEST(TokenBucket, RefusedAttemptsDoNotCostTokens) {
  TokenBucket bucket(1, 1);
  ASSERT_TRUE(bucket.try_take(t0));
  for (int i = 1; i < 4; ++i) EXPECT_FALSE(bucket.try_take(t0 + i * 250ms));
  EXPECT_TRUE(bucket.try_take(t0 + 1s));
}

}  // namespace
}  // namespace switchboard
