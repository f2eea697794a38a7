#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// Argon2id password hashing (libsodium's crypto_pwhash_str). Blocking and deliberately
/// expensive: call it only from the worker pool, never from an I/O thread.
class PasswordHasher {
 public:
  /// Told how long each hash (`verify` false) or verification took, on the thread that did it.
  using Observer = std::function<void(bool verify, std::chrono::nanoseconds took)>;

  PasswordHasher(std::uint64_t opslimit, std::size_t memlimit);

  /// Sets the observer; before the hasher is shared with the worker threads.
  void set_observer(Observer observer) { observer_ = std::move(observer); }

  /// The encoded Argon2id string, or nullopt if libsodium could not allocate its memory.
  std::optional<std::string> hash(std::string_view password) const;

  /// Checks `password` against `encoded`. With no encoded hash (unknown user) it verifies
  /// against a dummy hash of the same cost, so both answers take about the same time.
  bool verify(std::string_view password, const std::optional<std::string>& encoded) const;

 private:
  std::uint64_t opslimit_;
  std::size_t memlimit_;
  std::string dummy_hash_;
  Observer observer_;
};

}  // namespace switchboard
