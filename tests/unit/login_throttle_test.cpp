#include "switchboard/auth/login_throttle.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

/// A steady clock the test moves by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;
  SteadyNow fn() {
    return [this] { return now; };
  }
};

TEST(LoginThrottle, FreeFailuresThenLockOut) {
  FakeClock clock;
  LoginThrottle t(3, 1s, 60s, clock.fn());
  EXPECT_EQ(t.retry_after("alice"), 0s);
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 0s);
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 0s);
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 1s);
}

TEST(LoginThrottle, LockOutGrowsExponentiallyUpToTheCap) {
  FakeClock clock;
  LoginThrottle t(2, 1s, 60s, clock.fn());
  t.record_failure("k");
  ASSERT_EQ(t.retry_after("k"), 0s);
  const seconds expected[] = {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s};
  for (seconds want : expected) {
    t.record_failure("k");
    EXPECT_EQ(t.retry_after("k"), want);
    // Wait out the lock-out, then fail again.
    clock.now += want;
    EXPECT_EQ(t.retry_after("k"), 0s);
  }
}

TEST(LoginThrottle, HugeFailureCountsStayAtTheCap) {
  FakeClock clock;
  LoginThrottle t(1, 1s, 900s, clock.fn());
  for (int i = 0; i < 200; ++i) t.record_failure("k");
  EXPECT_EQ(t.retry_after("k"), 900s);
}

TEST(LoginThrottle, RetryAfterRoundsUp) {
  FakeClock clock;
  LoginThrottle t(1, 4s, 60s, clock.fn());
  t.record_failure("k");  // locked for 4 s
  EXPECT_EQ(t.retry_after("k"), 4s);
  clock.now += 1500ms;
  EXPECT_EQ(t.retry_after("k"), 3s);  // 2.5 s left
  clock.now += 1499ms;
  EXPECT_EQ(t.retry_after("k"), 2s);  // 1.001 s left
  clock.now += 2ms;
  EXPECT_EQ(t.retry_after("k"), 1s);  // 0.999 s left
  clock.now += 998ms;
  EXPECT_EQ(t.retry_after("k"), 1s);  // 1 ms left: still not zero
  clock.now += 1ms;
  EXPECT_EQ(t.retry_after("k"), 0s);  // exactly at the end
}

TEST(LoginThrottle, SuccessClearsTheCount) {
  FakeClock clock;
  LoginThrottle t(3, 1s, 60s, clock.fn());
  t.record_failure("alice");
  t.record_failure("alice");
  t.record_success("alice");
  // Two more failures would have locked without the reset.
  t.record_failure("alice");
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 0s);
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 1s);
}

TEST(LoginThrottle, SuccessLiftsALockOut) {
  FakeClock clock;
  LoginThrottle t(1, 10s, 60s, clock.fn());
  t.record_failure("alice");
  ASSERT_EQ(t.retry_after("alice"), 10s);
  t.record_success("alice");
  EXPECT_EQ(t.retry_after("alice"), 0s);
}

TEST(LoginThrottle, LockOutEndsSoTheOwnerCanTryAgain) {
  FakeClock clock;
  LoginThrottle t(2, 5s, 60s, clock.fn());
  t.record_failure("alice");
  t.record_failure("alice");
  ASSERT_EQ(t.retry_after("alice"), 5s);
  clock.now += 4s;
  EXPECT_EQ(t.retry_after("alice"), 1s);
  clock.now += 1s;
  EXPECT_EQ(t.retry_after("alice"), 0s);
  // The real user signs in.
  t.record_success("alice");
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 0s);
}

TEST(LoginThrottle, KeysAreIndependent) {
  FakeClock clock;
  LoginThrottle t(1, 1s, 60s, clock.fn());
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 1s);
  EXPECT_EQ(t.retry_after("bob"), 0s);
  EXPECT_EQ(t.retry_after("10.0.0.1"), 0s);
  t.record_success("bob");
  EXPECT_EQ(t.retry_after("alice"), 1s);
}

TEST(LoginThrottle, LongQuietPeriodStartsTheCountAfresh) {
  FakeClock clock;
  LoginThrottle t(2, 1s, 10s, clock.fn());
  for (int i = 0; i < 6; ++i) t.record_failure("k");
  ASSERT_EQ(t.retry_after("k"), 10s);
  // Far longer than the longest lock-out: the next failure is a first failure again.
  clock.now += 1h;
  t.record_failure("k");
  EXPECT_EQ(t.retry_after("k"), 0s);
}

TEST(LoginThrottle, BoundedKeyCountStillThrottlesNewFailures) {
  FakeClock clock;
  LoginThrottle t(1, 30s, 60s, clock.fn(), 4);
  for (int i = 0; i < 100; ++i) t.record_failure("attacker-" + std::to_string(i));
  t.record_failure("alice");
  EXPECT_EQ(t.retry_after("alice"), 30s);
}

}  // namespace
}  // namespace switchboard
