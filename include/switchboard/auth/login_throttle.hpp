#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "switchboard/auth/ticket_store.hpp"  // SteadyNow

namespace switchboard {

/// Slows password guessing: after `free_failures` wrong passwords for one key (an account,
/// or a client address), further attempts are refused for base * 2^(extra failures) seconds,
/// capped at `max`. The lock-out ends on its own, so the real owner can sign in afterwards;
/// a success clears the key's count.
class LoginThrottle {
 public:
  LoginThrottle(unsigned free_failures, std::chrono::seconds base, std::chrono::seconds max,
                SteadyNow now = std::chrono::steady_clock::now, std::size_t max_keys = 100'000);

  /// Seconds until `key` may try again; zero when it may try now.
  std::chrono::seconds retry_after(const std::string& key);
  void record_failure(const std::string& key);
  void record_success(const std::string& key);

 private:
  struct Entry {
    unsigned failures = 0;
    std::chrono::steady_clock::time_point locked_until{};
    std::chrono::steady_clock::time_point last_failure{};
  };
  void forget_stale_locked(std::chrono::steady_clock::time_point now);

  unsigned free_failures_;
  std::chrono::seconds base_;
  std::chrono::seconds max_;
  SteadyNow now_;
  std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace switchboard
