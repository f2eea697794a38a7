#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchboard/store/user_store.hpp"

namespace switchboard {

/// The accounts in a PostgreSQL database that several daemons can share. Behaves as
/// SqliteUserStore does (the same test suite runs against both).
///
/// Connections come from a bounded pool, opened as needed. A call that finds its connection
/// broken (the server restarted, the network dropped it) retries once on a fresh connection;
/// if the server cannot be reached the call answers `unavailable` at once, and the next call
/// tries again, so the store recovers by itself with no timer of its own. Creating a user is
/// safe to retry: an insert that committed before its answer was lost is recognised by its
/// API-key hash, which nobody else has.
class PostgresUserStore final : public UserStore {
 public:
  /// Connects to `url` (libpq's URI form) and migrates the schema under an advisory lock, so
  /// that daemons starting together against one empty database apply each migration once.
  /// Throws std::runtime_error with a one-line reason when that fails.
  PostgresUserStore(const std::string& url, unsigned pool_size);
  ~PostgresUserStore() override;

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

  class Connection;
  struct Param;

 private:
  /// A pooled connection, returned on destruction (or closed, if it broke).
  class Lease;
  struct DbFailure;
  template <class T>
  using Attempt = Result<T, DbFailure>;

  /// Runs `op` on a pooled connection; on a broken connection, once more on a fresh one.
  template <class T, class Op>
  Result<T, StoreError> run(const char* what, Op op);
  Result<Lease, StoreError> lease(bool fresh);
  void give_back(std::unique_ptr<Connection> c, bool healthy);
  /// An UPDATE or DELETE of one user by id, setting `value` (and the update time) if given.
  Result<Unit, StoreError> change_one(const char* what, const char* statement, UserId id,
                                      const Param* value);
  void migrate(Connection& c);
  void note_reachable(bool reachable, const std::string& why);

  std::string url_;
  std::string description_;
  unsigned pool_size_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  unsigned open_ = 0;  // idle and leased
  std::atomic<bool> reachable_{true};
};

}  // namespace switchboard
