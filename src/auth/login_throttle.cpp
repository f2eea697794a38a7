#include "switchboard/auth/login_throttle.hpp"

#include <algorithm>

namespace switchboard {

LoginThrottle::LoginThrottle(unsigned free_failures, std::chrono::seconds base,
                             std::chrono::seconds max, SteadyNow now, std::size_t max_keys)
    : free_failures_(free_failures),
      base_(base),
      max_(max),
      now_(std::move(now)),
      max_keys_(max_keys) {}

std::chrono::seconds LoginThrottle::retry_after(const std::string& key) {
  auto now = now_();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until <= now) return std::chrono::seconds{0};
  // Round up, so a client that waits exactly Retry-After is not refused again.
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - now);
  return std::max(left, std::chrono::seconds{1});
}

void LoginThrottle::record_failure(const std::string& key) {
  auto now = now_();
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_keys_ && !entries_.contains(key)) {
    forget_stale_locked(now);
    // Still full: an attack from very many keys. Start over rather than grow without bound;
    // the per-address and per-account limits that remain still apply to new failures.
    if (entries_.size() >= max_keys_) entries_.clear();
  }
  Entry& e = entries_[key];
  // A count that has been quiet for longer than the longest lock-out starts afresh.
  if (e.failures > 0 && now - e.last_failure > 2 * max_) e.failures = 0;
  ++e.failures;
  e.last_failure = now;
  if (e.failures >= free_failures_) {
    unsigned doublings = std::min(e.failures - free_failures_, 30u);
    auto lock_for = std::min(max_, base_ * (std::int64_t{1} << doublings));
    e.locked_until = now + lock_for;
  }
}

void LoginThrottle::record_success(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

void LoginThrottle::forget_stale_locked(std::chrono::steady_clock::time_point now) {
  std::erase_if(entries_, [&](const auto& kv) {
    return kv.second.locked_until <= now && now - kv.second.last_failure > 2 * max_;
  });
}

}  // namespace switchboard
