#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/util/result.hpp"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace switchboard {

/// Why a store call failed. `unavailable` covers a busy, locked, read-only or full database:
/// the caller answers 503 and the daemon carries on.
enum class StoreError { username_taken, not_found, unavailable };

const char* to_string(StoreError e);

struct UserRecord {
  UserId id = 0;
  std::string username;
  std::string password_hash;
  std::string api_key_hash;
};

/// The users table in a SQLite file (WAL mode, synchronous=FULL so an answered write survives
/// a crash). Opening applies pending migrations. Thread-safe by one mutex around one
/// connection; every call blocks, so it runs on the worker pool only.
class UserStore {
 public:
  /// Opens or creates the database at `path` and migrates it. Throws SQLite::Exception or
  /// std::runtime_error when the file cannot be opened or migrated (a start-up failure).
  explicit UserStore(const std::string& path);
  ~UserStore();

  Result<UserRecord, StoreError> create_user(const std::string& username,
                                             const std::string& password_hash,
                                             const std::string& api_key_hash);
  Result<UserRecord, StoreError> find_by_username(const std::string& username);
  Result<Identity, StoreError> find_by_key_hash(const std::string& api_key_hash);
  /// Up to `limit` users as the API-key lookup finds them, the most recently registered
  /// first: what the credential cache is filled with at start.
  Result<std::vector<Identity>, StoreError> recent_identities(std::size_t limit);
  Result<Unit, StoreError> update_password(UserId id, const std::string& password_hash);
  Result<Unit, StoreError> update_api_key(UserId id, const std::string& api_key_hash);

  /// The schema version the file is at (PRAGMA user_version).
  int schema_version();

 private:
  void migrate();

  std::mutex mutex_;
  std::unique_ptr<SQLite::Database> db_;
  /// The API-key lookup, compiled once: every new connection's key misses the credential cache
  /// once after a start, and preparing the query was most of what SQLite cost on that path.
  std::unique_ptr<SQLite::Statement> find_key_;
};

}  // namespace switchboard
