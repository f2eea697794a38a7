#include "switchboard/auth/credential_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard {
namespace {

TEST(CredentialCache, EmptyCacheFindsNothing) {
  CredentialCache cache;
  EXPECT_FALSE(cache.find("h").has_value());
  EXPECT_FALSE(cache.was_revoked("h"));
}

TEST(CredentialCache, PutThenFind) {
  CredentialCache cache;
  cache.put({7, "alice", "hash-a"});
  cache.put({8, "bob", "hash-b"});
  auto a = cache.find("hash-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->user_id, 7u);
  EXPECT_EQ(a->username, "alice");
  EXPECT_EQ(a->key_hash, "hash-a");
  auto b = cache.find("hash-b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->user_id, 8u);
  EXPECT_FALSE(cache.find("hash-c").has_value());
}

TEST(CredentialCache, RevokeForgetsTheKey) {
  CredentialCache cache;
  cache.put({7, "alice", "hash-a"});
  cache.put({8, "bob", "hash-b"});
  cache.revoke("hash-a");
  EXPECT_FALSE(cache.find("hash-a").has_value());
  EXPECT_TRUE(cache.was_revoked("hash-a"));
  // Others are untouched.
  EXPECT_TRUE(cache.find("hash-b").has_value());
  EXPECT_FALSE(cache.was_revoked("hash-b"));
}

TEST(CredentialCache, RevokedKeyIsNotPutBack) {
  CredentialCache cache;
  cache.put({7, "alice", "old"});
  cache.revoke("old");
  // A lookup that read the old key from the store just before the rotation.
  cache.put({7, "alice", "old"});
  EXPECT_FALSE(cache.find("old").has_value());
  // The new key of the same user is welcome.
  cache.put({7, "alice", "new"});
  EXPECT_TRUE(cache.find("new").has_value());
}

TEST(CredentialCache, RevokeOfAnUncachedKeyStillBlocksIt) {
  CredentialCache cache;
  cache.revoke("never-cached");
  EXPECT_TRUE(cache.was_revoked("never-cached"));
  cache.put({1, "u", "never-cached"});
  EXPECT_FALSE(cache.find("never-cached").has_value());
}

TEST(CredentialCache, PutReplacesTheIdentityForAKey) {
  CredentialCache cache;
  cache.put({7, "alice", "h"});
  cache.put({7, "Alice", "h"});
  auto a = cache.find("h");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->username, "Alice");
}

TEST(CredentialCache, CapacityIsBounded) {
  CredentialCache cache(3);
  for (int i = 0; i < 10; ++i) cache.put({static_cast<UserId>(i), "u", "h" + std::to_string(i)});
  int cached = 0;
  for (int i = 0; i < 10; ++i) cached += cache.find("h" + std::to_string(i)).has_value() ? 1 : 0;
  EXPECT_LE(cached, 3);
  // The latest entry is always there.
  EXPECT_TRUE(cache.find("h9").has_value());
}

TEST(CredentialCache, CapacityZeroHoldsNothing) {
  CredentialCache cache(0);
  cache.put({7, "alice", "h"});
  EXPECT_FALSE(cache.find("h").has_value());
  // Revocation is still remembered: a lookup in flight must not resurrect the key.
  cache.revoke("h");
  EXPECT_TRUE(cache.was_revoked("h"));
}

}  // namespace
}  // namespace switchboard
