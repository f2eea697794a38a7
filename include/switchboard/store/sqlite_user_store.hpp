#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "switchboard/store/user_store.hpp"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace switchboard {

/// The accounts in a SQLite file (WAL mode, synchronous=FULL so an answered write survives a
/// crash; PRAGMA user_version is the schema version). One connection behind one mutex: SQLite
/// takes one writer at a time anyway, and the worker pool is small.
class SqliteUserStore final : public UserStore {
 public:
  /// Opens or creates the database at `path` and migrates it. Throws SQLite::Exception or
  /// std::runtime_error when the file cannot be opened or migrated (a start-up failure).
  explicit SqliteUserStore(const std::string& path);
  ~SqliteUserStore() override;

  Result<UserRecord, StoreError> create_user(const std::string& username,
                                             const std::string& password_hash,
                                             const std::string& api_key_hash) override;
  Result<UserRecord, StoreError> find_by_username(const std::string& username) override;
  Result<Identity, StoreError> find_by_key_hash(const std::string& api_key_hash) override;
  Result<std::vector<Identity>, StoreError> recent_identities(std::size_t limit) override;
  Result<Unit, StoreError> update_password(UserId id, const std::string& password_hash) override;
  Result<Unit, StoreError> update_api_key(UserId id, const std::string& api_key_hash) override;
  Result<Unit, StoreError> delete_user(UserId id) override;
  Result<std::uint64_t, StoreError> count_users() override;
  Result<std::vector<UserRecord>, StoreError> list_users(UserId after_id,
                                                         std::size_t limit) override;
  Result<Unit, StoreError> import_users(const std::vector<UserRecord>& users) override;
  Result<Unit, StoreError> delete_all_users() override;
  Result<Unit, StoreError> ping() override;
  Result<int, StoreError> schema_version() override;
  std::string describe() const override;

 private:
  void migrate();

  std::string path_;
  std::mutex mutex_;
  std::unique_ptr<SQLite::Database> db_;
  /// The API-key lookup, compiled once: every new connection's key misses the credential cache
  /// once after a start, and preparing the query was most of what SQLite cost on that path.
  std::unique_ptr<SQLite::Statement> find_key_;
};

}  // namespace switchboard
