#include "switchboard/store/user_store.hpp"

#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <libpq-fe.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "switchboard/auth/api_key.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/store/migrations.hpp"
#include "switchboard/store/postgres_user_store.hpp"
#include "switchboard/store/sqlite_user_store.hpp"

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

/// One behaviour, two stores: every TEST_P runs against a SQLite file in a temp dir and
/// against a fresh database on the test run's PostgreSQL server.
class UserStoreTest : public ::testing::TestWithParam<SqlDialect> {
 protected:
  UserStoreTest() : location_(fresh_location()), owned_(open()), store(*owned_) {}

  std::string fresh_location() {
    if (GetParam() == SqlDialect::postgresql) return test::fresh_postgres_database();
    return "sqlite:" + dir_.file("users-" + std::to_string(files_++) + ".db");
  }
  std::unique_ptr<UserStore> open() { return open_user_store(location_, 4); }
  /// A second store on the same database (another daemon, or this one after a restart).
  std::unique_ptr<UserStore> reopen() { return open(); }
  /// Closes the fixture's own store (its connections, its file).
  void close() { owned_.reset(); }
  const std::vector<Migration>& migrations() const { return schema_migrations(GetParam()); }
  const std::string& location() const { return location_; }

 private:
  TempDir dir_;
  int files_ = 0;
  std::string location_;
  std::unique_ptr<UserStore> owned_;

 protected:
  UserStore& store;
};

INSTANTIATE_TEST_SUITE_P(Stores, UserStoreTest,
                         ::testing::Values(SqlDialect::sqlite, SqlDialect::postgresql),
                         [](const auto& p) { return test::dialect_test_name(p.param); });

TEST_P(UserStoreTest, CreateThenFindByUsername) {
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

TEST_P(UserStoreTest, RecentIdentitiesAreTheNewestUsersUpToTheLimit) {
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

TEST_P(UserStoreTest, IdsAreDistinct) {
  auto a = store.create_user("alice", "h1", key_hash("a"));
  auto b = store.create_user("bob", "h2", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a.value().id, b.value().id);
}

TEST_P(UserStoreTest, FindByUsernameIgnoresCaseAndKeepsStoredSpelling) {
  auto created = store.create_user("Alice.Smith", "h", key_hash("a"));
  ASSERT_TRUE(created.ok());
  for (const char* spelling : {"alice.smith", "ALICE.SMITH", "aLiCe.SmItH"}) {
    auto found = store.find_by_username(spelling);
    ASSERT_TRUE(found.ok()) << spelling;
    EXPECT_EQ(found.value().id, created.value().id);
    EXPECT_EQ(found.value().username, "Alice.Smith");
  }
}

TEST_P(UserStoreTest, UsernameUniquenessIgnoresCase) {
  ASSERT_TRUE(store.create_user("alice", "h1", key_hash("1")).ok());
  for (const char* spelling : {"alice", "Alice", "ALICE"}) {
    auto again = store.create_user(spelling, "h2", key_hash(std::string("2") + spelling));
    ASSERT_FALSE(again.ok()) << spelling;
    EXPECT_EQ(again.error(), StoreError::username_taken) << spelling;
  }
}

TEST_P(UserStoreTest, UnknownUsernameIsNotFound) {
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  auto found = store.find_by_username("alicea");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error(), StoreError::not_found);
}

TEST_P(UserStoreTest, FindByKeyHash) {
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

TEST_P(UserStoreTest, KeyHashWithNulBytesRoundTrips) {
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

TEST_P(UserStoreTest, UpdatePassword) {
  auto a = store.create_user("alice", "old-hash", key_hash("a"));
  auto b = store.create_user("bob", "bob-hash", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store.update_password(a.value().id, "new-hash").ok());
  EXPECT_EQ(store.find_by_username("alice").value().password_hash, "new-hash");
  // Only that user changed.
  EXPECT_EQ(store.find_by_username("bob").value().password_hash, "bob-hash");
}

TEST_P(UserStoreTest, UpdatePasswordOfUnknownIdIsNotFound) {
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  auto r = store.update_password(a.value().id + 1000, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), StoreError::not_found);
}

TEST_P(UserStoreTest, UpdateApiKeyRetiresTheOldHash) {
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

TEST_P(UserStoreTest, UpdateApiKeyOfUnknownIdIsNotFound) {
  auto r = store.update_api_key(42, key_hash("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), StoreError::not_found);
}

TEST_P(UserStoreTest, SchemaVersionIsTheNumberOfMigrations) {
  ASSERT_FALSE(migrations().empty());
  EXPECT_EQ(store.schema_version().value(), static_cast<int>(migrations().size()));
}

TEST_P(UserStoreTest, ReopeningKeepsData) {
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  UserId id = a.value().id;
  close();
  auto reopened = reopen();
  EXPECT_EQ(reopened->schema_version().value(), static_cast<int>(migrations().size()));
  auto found = reopened->find_by_username("alice");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().id, id);
  auto who = reopened->find_by_key_hash(key_hash("a"));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.value().user_id, id);
  // A new user after reopening does not reuse the id.
  auto b = reopened->create_user("bob", "h", key_hash("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_NE(b.value().id, id);
}

TEST_P(UserStoreTest, DeleteUserRemovesTheAccountAndItsKey) {
  auto a = store.create_user("alice", "h", key_hash("a"));
  auto b = store.create_user("bob", "h", key_hash("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store.delete_user(a.value().id).ok());
  EXPECT_EQ(store.find_by_username("alice").error(), StoreError::not_found);
  EXPECT_EQ(store.find_by_key_hash(key_hash("a")).error(), StoreError::not_found);
  EXPECT_TRUE(store.find_by_username("bob").ok());
  EXPECT_EQ(store.delete_user(a.value().id).error(), StoreError::not_found);
  // The name is free again.
  EXPECT_TRUE(store.create_user("Alice", "h", key_hash("a2")).ok());
}

TEST_P(UserStoreTest, ConcurrentCreatesOfOneNameHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, taken{0}, other{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Each its own store too, as separate daemons on one database would be.
      auto mine = reopen();
      std::string spelling = (i % 2) ? "Carol" : "cAROL";
      auto r = mine->create_user(spelling, "h", key_hash("c" + std::to_string(i)));
      if (r.ok()) {
        ++created;
      } else if (r.error() == StoreError::username_taken) {
        ++taken;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(taken.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store.count_users().value(), 1u);
}

TEST_P(UserStoreTest, ExportedPagesImportIntoAnEmptyStoreAsTheyWere) {
  for (std::string name : {"alice", "bob", "carol", "dave", "erin"}) {
    ASSERT_TRUE(store.create_user(name, "$argon2id$" + name, key_hash(name)).ok());
  }
  ASSERT_TRUE(store.delete_user(store.find_by_username("bob").value().id).ok());
  std::vector<UserRecord> all;
  for (UserId after = 0;;) {
    auto page = store.list_users(after, 2);
    ASSERT_TRUE(page.ok());
    if (page.value().empty()) break;
    EXPECT_LE(page.value().size(), 2u);
    for (auto& u : page.value()) {
      EXPECT_GT(u.id, after);
      after = u.id;
      all.push_back(u);
    }
  }
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(store.count_users().value(), 4u);

  std::string target_location = fresh_location();
  auto target = open_user_store(target_location, 2);
  EXPECT_EQ(target->count_users().value(), 0u);
  ASSERT_TRUE(target->import_users(all).ok());
  EXPECT_EQ(target->count_users().value(), 4u);
  for (const auto& u : all) {
    auto found = target->find_by_username(u.username);
    ASSERT_TRUE(found.ok()) << u.username;
    EXPECT_EQ(found.value().id, u.id);
    EXPECT_EQ(found.value().password_hash, u.password_hash);
    EXPECT_EQ(found.value().api_key_hash, u.api_key_hash);
    EXPECT_EQ(found.value().created_at, u.created_at);
    EXPECT_EQ(found.value().updated_at, u.updated_at);
    EXPECT_EQ(target->find_by_key_hash(u.api_key_hash).value().user_id, u.id);
  }
  // A registration after the import gets an id above every imported one.
  auto next = target->create_user("frank", "h", key_hash("frank"));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next.value().id, all.back().id);
}

TEST_P(UserStoreTest, AnImportWithAConflictImportsNothing) {
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  std::vector<UserRecord> batch = {
      UserRecord{100, "zoe", "h", key_hash("z"), 1, 2},
      UserRecord{101, "ALICE", "h", key_hash("a2"), 1, 2},  // the name is taken
  };
  auto r = store.import_users(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), StoreError::username_taken);
  EXPECT_EQ(store.count_users().value(), 1u);
  EXPECT_EQ(store.find_by_username("zoe").error(), StoreError::not_found);
  // The store is usable after the failed transaction.
  EXPECT_TRUE(store.create_user("zoe", "h", key_hash("z")).ok());
}

TEST_P(UserStoreTest, DeleteAllUsersEmptiesTheStore) {
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  ASSERT_TRUE(store.create_user("bob", "h", key_hash("b")).ok());
  ASSERT_TRUE(store.delete_all_users().ok());
  EXPECT_EQ(store.count_users().value(), 0u);
  EXPECT_EQ(store.find_by_key_hash(key_hash("a")).error(), StoreError::not_found);
}

TEST_P(UserStoreTest, DescribeNamesTheStoreWithoutSecrets) {
  auto text = store.describe();
  EXPECT_NE(text.find(GetParam() == SqlDialect::sqlite ? "SQLite" : "PostgreSQL"),
            std::string::npos)
      << text;
}

TEST(SqliteUserStore, NewerSchemaVersionThrowsAtOpen) {
  TempDir dir;
  const std::string path = dir.file("future.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = " +
            std::to_string(schema_migrations(SqlDialect::sqlite).size() + 1));
  }
  EXPECT_THROW(SqliteUserStore store(path), std::runtime_error);
}

TEST(SqliteUserStore, EmptyFileAtVersionZeroIsMigrated) {
  TempDir dir;
  const std::string path = dir.file("empty.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    ASSERT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 0);
    ASSERT_FALSE(db.tableExists("users"));
  }
  SqliteUserStore store(path);
  EXPECT_EQ(store.schema_version().value(),
            static_cast<int>(schema_migrations(SqlDialect::sqlite).size()));
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(store.find_by_username("alice").ok());
  SQLite::Database check(path, SQLite::OPEN_READONLY);
  EXPECT_TRUE(check.tableExists("users"));
}

TEST(SqliteUserStore, UnopenablePathThrows) {
  TempDir dir;
  EXPECT_THROW(SqliteUserStore store(dir.file("no/such/dir/users.db")), std::runtime_error);
}

TEST(SqliteUserStore, UsesWriteAheadLog) {
  TempDir dir;
  const std::string path = dir.file("users.db");
  SqliteUserStore store(path);
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(SqliteUserStore, PlaintextSecretsNeverReachTheFiles) {
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
    SqliteUserStore store(path);
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

// PostgreSQL's own: what a server adds to a file.

/// Runs one SQL statement on `url` (a test's direct look at the database).
std::vector<std::string> sql(const std::string& url, const std::string& statement) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(url.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), statement.c_str()), &PQclear);
  auto status = PQresultStatus(r.get());
  EXPECT_TRUE(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
      << statement << ": " << PQresultErrorMessage(r.get());
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.emplace_back(PQgetvalue(r.get(), i, 0),
                     static_cast<std::size_t>(PQgetlength(r.get(), i, 0)));
  }
  return out;
}

TEST(PostgresUserStore, DaemonsStartingTogetherOnAnEmptyDatabaseMigrateItOnce) {
  const std::string url = test::fresh_postgres_database();
  constexpr int kDaemons = 6;
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  std::vector<std::string> errors(kDaemons);
  for (int i = 0; i < kDaemons; ++i) {
    threads.emplace_back([&, i] {
      try {
        PostgresUserStore store(url, 1);
        if (store.schema_version().value() ==
            static_cast<int>(schema_migrations(SqlDialect::postgresql).size())) {
          ++opened;
        }
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(opened.load(), kDaemons);
  auto applied = sql(url, "SELECT count(*) FROM schema_migrations");
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0], std::to_string(schema_migrations(SqlDialect::postgresql).size()));
}

TEST(PostgresUserStore, NewerSchemaVersionThrowsAtOpen) {
  const std::string url = test::fresh_postgres_database();
  { PostgresUserStore store(url, 1); }
  sql(url, "INSERT INTO schema_migrations VALUES (" +
               std::to_string(schema_migrations(SqlDialect::postgresql).size() + 1) +
               ", '999_future.sql', 0)");
  EXPECT_THROW(PostgresUserStore store(url, 1), std::runtime_error);
}

TEST(PostgresUserStore, AnUnreachableServerFailsTheStartWithoutShowingThePassword) {
  // Port 1: nothing listens there.
  std::string url = "postgresql://switchboard:Secret-Marker-51@127.0.0.1:1/postgres";
  try {
    PostgresUserStore store(url, 1);
    ADD_FAILURE() << "opened a store on a stopped server";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find("Secret-Marker-51"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1"), std::string::npos) << what;
  }
}

TEST(PostgresUserStore, ANotAUriLocationIsRefused) {
  EXPECT_THROW(PostgresUserStore("postgresql://[::1", 1), std::runtime_error);
}

TEST(PostgresUserStore, ServerRestartIsUnavailableThenRecoversByItself) {
  test::PostgresServer server(true);
  auto url = test::create_database(server.url());
  PostgresUserStore store(url, 2);
  auto a = store.create_user("alice", "h", key_hash("a"));
  ASSERT_TRUE(a.ok());
  // Both pooled connections in use once, so both die with the server.
  ASSERT_TRUE(store.find_by_key_hash(key_hash("a")).ok());

  server.stop("immediate");
  auto during = store.find_by_username("alice");
  ASSERT_FALSE(during.ok());
  EXPECT_EQ(during.error(), StoreError::unavailable);
  EXPECT_EQ(store.create_user("bob", "h", key_hash("b")).error(), StoreError::unavailable);

  server.start();
  // No call to reconnect: the next calls find the server again by themselves.
  auto after = store.find_by_username("alice");
  ASSERT_TRUE(after.ok()) << to_string(after.error());
  EXPECT_EQ(after.value().id, a.value().id);
  EXPECT_TRUE(store.create_user("bob", "h", key_hash("b")).ok());
  EXPECT_TRUE(store.find_by_key_hash(key_hash("b")).ok());
}

TEST(PostgresUserStore, ConnectionsKilledUnderneathAreReplacedWithoutAnError) {
  const std::string url = test::fresh_postgres_database();
  PostgresUserStore store(url, 2);
  ASSERT_TRUE(store.create_user("alice", "h", key_hash("a")).ok());
  // An administrator (or a proxy's idle cut) ends our sessions between two calls.
  sql(url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'switchboard' AND pid <> pg_backend_pid()");
  auto found = store.find_by_username("alice");
  ASSERT_TRUE(found.ok()) << to_string(found.error());
  EXPECT_TRUE(store.create_user("bob", "h", key_hash("b")).ok());
}

TEST(PostgresUserStore, PlaintextSecretsNeverReachTheDatabase) {
  const std::string url = test::fresh_postgres_database();
  const std::string password = "PlaintextPasswordMarker-91af";
  const std::string api_key = generate_api_key();
  PasswordHasher hasher(1, 8192);
  auto password_hash = hasher.hash(password);
  ASSERT_TRUE(password_hash.has_value());
  {
    PostgresUserStore store(url, 1);
    ASSERT_TRUE(store.create_user("alice", *password_hash, hash_api_key(api_key)).ok());
  }
  // What the table holds, as the server returns it: the hashes, never the secrets.
  auto stored = sql(url, "SELECT password_hash || encode(api_key_hash, 'hex') FROM users");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_NE(stored[0].find(*password_hash), std::string::npos);
  EXPECT_EQ(stored[0].find(password), std::string::npos);
  // And the files: the table's, after a checkpoint, and the write-ahead log.
  sql(url, "CHECKPOINT");
  auto data_dir = sql(url, "SHOW data_directory")[0];
  auto table_file = sql(url, "SELECT pg_relation_filepath('users')")[0];
  std::string everything = read_bytes(data_dir + "/" + table_file);
  for (const auto& wal : std::filesystem::directory_iterator(data_dir + "/pg_wal")) {
    if (wal.is_regular_file()) everything += read_bytes(wal.path().string());
  }
  EXPECT_NE(everything.find(*password_hash), std::string::npos) << "the search sees the data";
  EXPECT_EQ(everything.find(password), std::string::npos);
  EXPECT_EQ(everything.find(api_key), std::string::npos);
}

TEST(UserStore, StoreErrorNames) {
  EXPECT_STREQ(to_string(StoreError::username_taken), "username_taken");
  EXPECT_STREQ(to_string(StoreError::not_found), "not_found");
  EXPECT_STREQ(to_string(StoreError::unavailable), "unavailable");
}

}  // namespace
}  // namespace switchboard
