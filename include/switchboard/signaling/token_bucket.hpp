#pragma once

#include <algorithm>
#include <chrono>

namespace switchboard {

/// A token bucket: up to `burst` events at once, refilled at `rate` per second. Not locked:
/// each connection owns its own and touches it only on its own I/O thread.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  /// Takes one token if there is one.
  bool try_take(Clock::time_point now = Clock::now()) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  void refill(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    }
    last_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace switchboard
