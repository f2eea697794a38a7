#pragma once

#include <chrono>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "switchboard/auth/identity.hpp"

namespace switchboard {

/// API-key hash to identity, in memory, so that authenticating a connection is one hash and
/// one map lookup instead of a trip to SQLite. Filled on a store hit, emptied of a key the
/// moment it is rotated. Bounded: when full it starts over (a miss only costs a lookup).
///
/// It also remembers recently revoked keys for a few minutes, which closes a race: a lookup
/// that read the old key from the store just before the rotation must neither re-insert it
/// here nor open a connection with it afterwards.
class CredentialCache {
 public:
  explicit CredentialCache(std::size_t capacity = 200'000) : capacity_(capacity) {}

  std::size_t capacity() const { return capacity_; }
  std::optional<Identity> find(const std::string& key_hash) const;
  /// Adds `who` unless its key has been revoked.
  void put(const Identity& who);
  /// Forgets `key_hash` and records it as revoked.
  void revoke(const std::string& key_hash);
  bool was_revoked(const std::string& key_hash) const;

 private:
  std::size_t capacity_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Identity> entries_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> revoked_;
};

}  // namespace switchboard
