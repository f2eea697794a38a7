#include "switchboard/store/user_store.hpp"

#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"
#include "switchboard/auth/api_key.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/store/migrations.hpp"

namespace switchboard {
namespace {

using test::TempDir;

std::string key_hash(const std::string& label) {
  return hash_api_key("key-" + label);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(UserStore, CreateThenFindByUsername) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto created = store.create_user("alice", "$argon2id$hash-a", key_hash("a"));
  ASSERT_TRUE(created.ok());
  EXPECT_GT(created.value().id, 0u);
  EXPECT_EQ(created.value().username, "alice");

  auto found = store.find_by_username("alice");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().id, created.value().id);
  EXPECT_EQ(found.value().username, "alice");
  EXPECT_EQ(found.value().password_hash, "$argon2id$hash-a");
  EXPECT_EQ(found.value().api_key_hash, key_hash("a"));
}

TEST(UserStore, RecentIdentitiesAreTheNewestUsersUpToTheLimit) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  for (std::string name : {"alice", "bob", "carol"}) {
    ASSERT_TRUE(store.create_user(name, "$argon2id$hash", key_hash(name)).ok());
  }
  auto two = store.recent_identities(2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two.value().size(), 2u);
  EXPECT_EQ(two.value()[0].username, "carol");
  EXPECT_EQ(two.value()[0].key_hash, key_hash("carol"));
  EXPECT_EQ(two.value()[1].username, "bob");
  EXPECT_EQ(two.value()[1].user_id, store.find_by_username("bob").value().id);
  auto all = store.recent_identities(100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value().size(), 3u);
}

TEST(UserStore, IdsAreDistinct) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto a = store.create_user("alice", "h1", key_hash("a"));
  auto b = store.create_user("bob", "h2", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a.value().id, b.value().id);
}

TEST(UserStore, FindByUsernameIgnoresCaseAndKeepsStoredSpelling) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto created = store.create_user("Alice.Smith", "h", key_hash("a"));
  ASSERT_TRUE(created.ok());
  for (const char* spelling : {"alice.smith", "ALICE.SMITH", "aLiCe.SmItH"}) {
    auto found = store.find_by_username(spelling);
    ASSERT_TRUE(found.ok()) << spelling;
    EXPECT_EQ(found.value().id, created.value().id);
    EXPECT_EQ(found.value().username, "Alice.Smith");
  }
}

TEST(UserStore, UsernameUniquenessIgnoresCase) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  ASSERT_TRUE(store.create_user("alice", "h1", key_hash("1")).ok());
  for (const char* spelling : {"alice", "Alice", "ALICE"}) {
    auto again = store.create_user(spelling, "h2", key_hash(std::string("2") + spelling));
    ASSERT_FALSE(again.ok()) << spelling;
    EXPECT_EQ(again.error(), StoreError::username_taken) << spelling;
  }
}

TEST(UserStore, UnknownUsernameIsNotFound) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  auto found = store.find_by_username("alicea");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error(), StoreError::not_found);
}

TEST(UserStore, FindByKeyHash) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto a = store.create_user("alice", "h1", key_hash("a"));
  auto b = store.create_user("bob", "h2", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());

  auto who = store.find_by_key_hash(key_hash("b"));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.value().user_id, b.value().id);
  EXPECT_EQ(who.value().username, "bob");
  EXPECT_EQ(who.value().key_hash, key_hash("b"));

  auto none = store.find_by_key_hash(key_hash("c"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error(), StoreError::not_found);
}

TEST(UserStore, KeyHashWithNulBytesRoundTrips) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  std::string raw("\0\x01\x02\0zz", 6);
  raw.resize(32, '\0');
  auto a = store.create_user("alice", "h1", raw);
  ASSERT_TRUE(a.ok());
  auto who = store.find_by_key_hash(raw);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.value().user_id, a.value().id);
  // A prefix of the hash (as a C string would be) is not the hash.
  EXPECT_FALSE(store.find_by_key_hash(std::string("\0", 1)).ok());
  auto found = store.find_by_username("alice");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().api_key_hash, raw);
}

TEST(UserStore, UpdatePassword) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto a = store.create_user("alice", "old-hash", key_hash("a"));
  auto b = store.create_user("bob", "bob-hash", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store.update_password(a.value().id, "new-hash").ok());
  EXPECT_EQ(store.find_by_username("alice").value().password_hash, "new-hash");
  // Only that user changed.
  EXPECT_EQ(store.find_by_username("bob").value().password_hash, "bob-hash");
}

TEST(UserStore, UpdatePasswordOfUnknownIdIsNotFound) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  auto r = store.update_password(a.value().id + 1000, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), StoreError::not_found);
}

TEST(UserStore, UpdateApiKeyRetiresTheOldHash) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto a = store.create_user("alice", "h", key_hash("old"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(store.update_api_key(a.value().id, key_hash("new")).ok());

  auto old_lookup = store.find_by_key_hash(key_hash("old"));
  ASSERT_FALSE(old_lookup.ok());
  EXPECT_EQ(old_lookup.error(), StoreError::not_found);

  auto new_lookup = store.find_by_key_hash(key_hash("new"));
  ASSERT_TRUE(new_lookup.ok());
  EXPECT_EQ(new_lookup.value().user_id, a.value().id);
  EXPECT_EQ(store.find_by_username("alice").value().api_key_hash, key_hash("new"));
}

TEST(UserStore, UpdateApiKeyOfUnknownIdIsNotFound) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  auto r = store.update_api_key(42, key_hash("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), StoreError::not_found);
}

TEST(UserStore, SchemaVersionIsTheNumberOfMigrations) {
  TempDir dir;
  UserStore store(dir.file("users.db"));
  ASSERT_FALSE(schema_migrations().empty());
  EXPECT_EQ(store.schema_version(), static_cast<int>(schema_migrations().size()));
}

TEST(UserStore, ReopeningKeepsData) {
  TempDir dir;
  UserId id = 0;
  {
    UserStore store(dir.file("users.db"));
    auto a = store.create_user("alice", "h", key_hash("a"));
    ASSERT_TRUE(a.ok());
    id = a.value().id;
  }
  UserStore reopened(dir.file("users.db"));
  EXPECT_EQ(reopened.schema_version(), static_cast<int>(schema_migrations().size()));
  auto found = reopened.find_by_username("alice");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().id, id);
  auto who = reopened.find_by_key_hash(key_hash("a"));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.value().user_id, id);
  // A new user after reopening does not reuse the id.
  auto b = reopened.create_user("bob", "h", key_hash("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_NE(b.value().id, id);
}

TEST(UserStore, NewerSchemaVersionThrowsAtOpen) {
  TempDir dir;
  const std::string path = dir.file("future.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = " + std::to_string(schema_migrations().size() + 1));
  }
  EXPECT_THROW(UserStore store(path), std::runtime_error);
}

TEST(UserStore, EmptyFileAtVersionZeroIsMigrated) {
  TempDir dir;
  const std::string path = dir.file("empty.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    ASSERT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 0);
    ASSERT_FALSE(db.tableExists("users"));
  }
  UserStore store(path);
  EXPECT_EQ(store.schema_version(), static_cast<int>(schema_migrations().size()));
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(store.find_by_username("alice").ok());
  SQLite::Database check(path, SQLite::OPEN_READONLY);
  EXPECT_TRUE(check.tableExists("users"));
}

TEST(UserStore, UnopenablePathThrows) {
  TempDir dir;
  EXPECT_THROW(UserStore store(dir.file("no/such/dir/users.db")), std::runtime_error);
}

TEST(UserStore, UsesWriteAheadLog) {
  TempDir dir;
  const std::string path = dir.file("users.db");
  UserStore store(path);
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(UserStore, PlaintextSecretsNeverReachTheFiles) {
  TempDir dir;
  const std::string path = dir.file("users.db");
  const std::string password = "PlaintextPasswordMarker-7d1c";
  const std::string api_key = generate_api_key();
  PasswordHasher hasher(1, 8192);
  auto password_hash = hasher.hash(password);
  ASSERT_TRUE(password_hash.has_value());
  const std::string api_key_hash = hash_api_key(api_key);

  std::string everything;
  {
    UserStore store(path);
    auto a = store.create_user("alice", *password_hash, api_key_hash);
    ASSERT_TRUE(a.ok());
    // Rotate too, so both the update paths write.
    const std::string new_password = "SecondPlaintextMarker-3e9b";
    auto new_hash = hasher.hash(new_password);
    ASSERT_TRUE(new_hash.has_value());
    ASSERT_TRUE(store.update_password(a.value().id, *new_hash).ok());
    ASSERT_TRUE(store.update_api_key(a.value().id, api_key_hash).ok());
    // Read while the store is open, so that the WAL still holds the latest writes.
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      everything += read_bytes(path + suffix);
    }
    EXPECT_EQ(everything.find(new_password), std::string::npos);
    EXPECT_NE(everything.find(*new_hash), std::string::npos) << "the search sees the data";
  }
  for (const char* suffix : {"", "-wal"}) everything += read_bytes(path + suffix);

  // The search can see what was written...
  EXPECT_NE(everything.find(*password_hash), std::string::npos);
  EXPECT_NE(everything.find(api_key_hash), std::string::npos);
  // ...and the plaintext is not there.
  EXPECT_EQ(everything.find(password), std::string::npos);
  EXPECT_EQ(everything.find(api_key), std::string::npos);
  EXPECT_EQ(everything.find(api_key.substr(0, 16)), std::string::npos);
}

TEST(UserStore, StoreErrorNames) {
  EXPECT_STREQ(to_string(StoreError::username_taken), "username_taken");
  EXPECT_STREQ(to_string(StoreError::not_found), "not_found");
  EXPECT_STREQ(to_string(StoreError::unavailable), "unavailable");
}

}  // namespace
}  // namespace switchboard
