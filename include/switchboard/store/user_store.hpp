#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// Why a store call failed. `unavailable` covers a busy, locked, read-only or full database and
/// a database server that cannot be reached: the caller answers 503 and the daemon carries on.
enum class StoreError { username_taken, not_found, unavailable };

const char* to_string(StoreError e);

struct UserRecord {
  UserId id = 0;
  std::string username;
  std::string password_hash;
  std::string api_key_hash;
  std::int64_t created_at = 0;  // Unix seconds
  std::int64_t updated_at = 0;
};

/// The accounts: what the REST API and the WebSocket authentication need to know about users.
/// Two implementations with one behaviour: SqliteUserStore (one file, the default) and
/// PostgresUserStore (a server several daemons share). Usernames are unique without regard to
/// ASCII case and keep the spelling they were registered with; passwords are held only as
/// Argon2id strings and API keys only as their SHA-256, as the caller hands them over.
///
/// Every call blocks (disk or network), so it runs on the worker pool only. Calls are
/// thread-safe. Failures are values; nothing here throws after construction.
class UserStore {
 public:
  virtual ~UserStore() = default;

  virtual Result<UserRecord, StoreError> create_user(const std::string& username,
                                                     const std::string& password_hash,
                                                     const std::string& api_key_hash) = 0;
  virtual Result<UserRecord, StoreError> find_by_username(const std::string& username) = 0;
  virtual Result<Identity, StoreError> find_by_key_hash(const std::string& api_key_hash) = 0;
  /// Up to `limit` users as the API-key lookup finds them, the most recently registered
  /// first: what the credential cache is filled with at start.
  virtual Result<std::vector<Identity>, StoreError> recent_identities(std::size_t limit) = 0;
  virtual Result<Unit, StoreError> update_password(UserId id, const std::string& password_hash) = 0;
  virtual Result<Unit, StoreError> update_api_key(UserId id, const std::string& api_key_hash) = 0;
  virtual Result<Unit, StoreError> delete_user(UserId id) = 0;

  // Moving accounts between stores (`switchboard accounts copy`).

  virtual Result<std::uint64_t, StoreError> count_users() = 0;
  /// Up to `limit` whole records with ids above `after_id`, in id order: a page of an export.
  virtual Result<std::vector<UserRecord>, StoreError> list_users(UserId after_id,
                                                                 std::size_t limit) = 0;
  /// Inserts `users` as they are (ids, hashes and times kept) in one transaction: all or none.
  /// Later registrations get ids above every imported one.
  virtual Result<Unit, StoreError> import_users(const std::vector<UserRecord>& users) = 0;
  virtual Result<Unit, StoreError> delete_all_users() = 0;

  /// A trivial round trip (the readiness probe): ok while the store answers. Bounded like
  /// every call: a PostgreSQL server that does not answer fails it within the connect and
  /// lease timeouts.
  virtual Result<Unit, StoreError> ping() = 0;
  /// The schema version the database is at: the number of migrations applied.
  virtual Result<int, StoreError> schema_version() = 0;
  /// Where the accounts are, for logs: never a password.
  virtual std::string describe() const = 0;
};

/// Where accounts live: `postgresql://...` or `postgres://...` (libpq's URI form) is a
/// PostgreSQL server with a pool of at most `pool_size` connections; `sqlite:PATH` or a bare
/// path is a SQLite file. Opening migrates the schema. Throws std::runtime_error (with a
/// one-line reason, no password) when the store cannot be opened or migrated: a start-up
/// failure.
std::unique_ptr<UserStore> open_user_store(const std::string& location, unsigned pool_size = 4);

/// Whether `location` names a PostgreSQL server rather than a SQLite file.
bool is_postgresql_location(const std::string& location);

}  // namespace switchboard
