#include "switchboard/auth/credential_cache.hpp"

#include <mutex>

namespace switchboard {

namespace {
// Longer than any path from a key lookup to a registered connection (bounded by the
// WebSocket handshake timeout).
constexpr auto kRevocationMemory = std::chrono::minutes(5);
}  // namespace

std::optional<Identity> CredentialCache::find(const std::string& key_hash) const {
  std::shared_lock lock(mutex_);
  auto it = entries_.find(key_hash);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void CredentialCache::put(const Identity& who) {
  if (capacity_ == 0) return;  // no cache: every lookup goes to the store
  std::unique_lock lock(mutex_);
  if (revoked_.contains(who.key_hash)) return;
  if (entries_.size() >= capacity_) entries_.clear();
  entries_[who.key_hash] = who;
}

void CredentialCache::revoke(const std::string& key_hash) {
  auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  entries_.erase(key_hash);
  std::erase_if(revoked_, [&](const auto& kv) { return now - kv.second > kRevocationMemory; });
  revoked_[key_hash] = now;
}

bool CredentialCache::was_revoked(const std::string& key_hash) const {
  std::shared_lock lock(mutex_);
  return revoked_.contains(key_hash);
}

}  // namespace switchboard
