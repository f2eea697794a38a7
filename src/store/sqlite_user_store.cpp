#include "switchboard/store/sqlite_user_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "switchboard/store/migrations.hpp"
#include "switchboard/util/clock.hpp"

namespace switchboard {

namespace {

/// Maps a SQLite failure onto the store's error values, logging ours (not the caller's).
StoreError classify(const SQLite::Exception& e, const char* what) {
  if (e.getErrorCode() == SQLITE_CONSTRAINT) return StoreError::username_taken;
  spdlog::error("user store: {} failed: {} (sqlite {}/{})", what, e.what(), e.getErrorCode(),
                e.getExtendedErrorCode());
  return StoreError::unavailable;
}

std::string column_blob(SQLite::Statement& q, int i) {
  auto c = q.getColumn(i);
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
}

void bind_blob(SQLite::Statement& q, int i, const std::string& bytes) {
  q.bind(i, bytes.data(), static_cast<int>(bytes.size()));
}

constexpr const char* kRecordColumns =
    "SELECT id, username, password_hash, api_key_hash, created_at, updated_at FROM users ";

UserRecord read_record(SQLite::Statement& q) {
  return UserRecord{static_cast<UserId>(q.getColumn(0).getInt64()),
                    q.getColumn(1).getString(),
                    q.getColumn(2).getString(),
                    column_blob(q, 3),
                    q.getColumn(4).getInt64(),
                    q.getColumn(5).getInt64()};
}

/// An UPDATE or DELETE of one row by id: not_found when no row had it.
Result<Unit, StoreError> changed_one(SQLite::Statement& q) {
  if (q.exec() == 0) return StoreError::not_found;
  return Unit{};
}

}  // namespace

SqliteUserStore::SqliteUserStore(const std::string& path)
    : path_(path),
      db_(std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)) {
  // Wait for another writer (a backup, a second process) briefly before reporting busy.
  db_->setBusyTimeout(2000);
  db_->exec("PRAGMA journal_mode = WAL");
  // FULL: a transaction is on disk before we answer 201, even across power loss.
  db_->exec("PRAGMA synchronous = FULL");
  db_->exec("PRAGMA foreign_keys = ON");
  migrate();
}

SqliteUserStore::~SqliteUserStore() = default;

std::string SqliteUserStore::describe() const {
  return "SQLite file " + path_;
}

void SqliteUserStore::migrate() {
  const auto& migrations = schema_migrations(SqlDialect::sqlite);
  int version = db_->execAndGet("PRAGMA user_version").getInt();
  if (version > static_cast<int>(migrations.size())) {
    throw std::runtime_error("database schema version " + std::to_string(version) +
                             " is newer than this build knows (" +
                             std::to_string(migrations.size()) + ")");
  }
  for (auto i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
    SQLite::Transaction tx(*db_);
    db_->exec(migrations[i].sql);
    db_->exec("PRAGMA user_version = " + std::to_string(i + 1));
    tx.commit();
    spdlog::info("database migrated to schema version {} ({})", i + 1, migrations[i].name);
  }
}

Result<Unit, StoreError> SqliteUserStore::ping() {
  std::lock_guard lock(mutex_);
  try {
    // Reads the file's header: the file is still there and readable.
    (void)db_->execAndGet("PRAGMA user_version").getInt();
    return Unit{};
  } catch (const SQLite::Exception& e) {
    return classify(e, "ping");
  }
}

Result<int, StoreError> SqliteUserStore::schema_version() {
  std::lock_guard lock(mutex_);
  try {
    return db_->execAndGet("PRAGMA user_version").getInt();
  } catch (const SQLite::Exception& e) {
    return classify(e, "read schema version");
  }
}

Result<UserRecord, StoreError> SqliteUserStore::create_user(const std::string& username,
                                                            const std::string& password_hash,
                                                            const std::string& api_key_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO users (username, password_hash, api_key_hash, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?)");
    auto now = unix_seconds();
    q.bind(1, username);
    q.bind(2, password_hash);
    bind_blob(q, 3, api_key_hash);
    q.bind(4, now);
    q.bind(5, now);
    q.exec();
    return UserRecord{static_cast<UserId>(db_->getLastInsertRowid()),
                      username,
                      password_hash,
                      api_key_hash,
                      now,
                      now};
  } catch (const SQLite::Exception& e) {
    return classify(e, "insert user");
  }
}

Result<UserRecord, StoreError> SqliteUserStore::find_by_username(const std::string& username) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, std::string(kRecordColumns) + "WHERE username = ?");
    q.bind(1, username);
    if (!q.executeStep()) return StoreError::not_found;
    return read_record(q);
  } catch (const SQLite::Exception& e) {
    return classify(e, "find user");
  }
}

Result<Identity, StoreError> SqliteUserStore::find_by_key_hash(const std::string& api_key_hash) {
  std::lock_guard lock(mutex_);
  try {
    if (!find_key_) {
      find_key_ = std::make_unique<SQLite::Statement>(
          *db_, "SELECT id, username FROM users WHERE api_key_hash = ?");
    }
    SQLite::Statement& q = *find_key_;
    // Rewound for the next call however this one ends, an exception included (a reset
    // statement holds no read lock). The next bind replaces the key.
    struct Rewind {
      SQLite::Statement& q;
      ~Rewind() { q.tryReset(); }
    } rewind{q};
    bind_blob(q, 1, api_key_hash);
    if (!q.executeStep()) return StoreError::not_found;
    return Identity{static_cast<UserId>(q.getColumn(0).getInt64()), q.getColumn(1).getString(),
                    api_key_hash};
  } catch (const SQLite::Exception& e) {
    return classify(e, "find key");
  }
}

Result<std::vector<Identity>, StoreError> SqliteUserStore::recent_identities(std::size_t limit) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT id, username, api_key_hash FROM users ORDER BY id DESC LIMIT ?");
    q.bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<Identity> out;
    while (q.executeStep()) {
      out.push_back(Identity{static_cast<UserId>(q.getColumn(0).getInt64()),
                             q.getColumn(1).getString(), column_blob(q, 2)});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return classify(e, "list keys");
  }
}

Result<Unit, StoreError> SqliteUserStore::update_password(UserId id,
                                                          const std::string& password_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?");
    q.bind(1, password_hash);
    q.bind(2, unix_seconds());
    q.bind(3, static_cast<std::int64_t>(id));
    return changed_one(q);
  } catch (const SQLite::Exception& e) {
    return classify(e, "update password");
  }
}

Result<Unit, StoreError> SqliteUserStore::update_api_key(UserId id,
                                                         const std::string& api_key_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, "UPDATE users SET api_key_hash = ?, updated_at = ? WHERE id = ?");
    bind_blob(q, 1, api_key_hash);
    q.bind(2, unix_seconds());
    q.bind(3, static_cast<std::int64_t>(id));
    return changed_one(q);
  } catch (const SQLite::Exception& e) {
    return classify(e, "update key");
  }
}

Result<Unit, StoreError> SqliteUserStore::delete_user(UserId id) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM users WHERE id = ?");
    q.bind(1, static_cast<std::int64_t>(id));
    return changed_one(q);
  } catch (const SQLite::Exception& e) {
    return classify(e, "delete user");
  }
}

Result<std::uint64_t, StoreError> SqliteUserStore::count_users() {
  std::lock_guard lock(mutex_);
  try {
    return static_cast<std::uint64_t>(db_->execAndGet("SELECT count(*) FROM users").getInt64());
  } catch (const SQLite::Exception& e) {
    return classify(e, "count users");
  }
}

Result<std::vector<UserRecord>, StoreError> SqliteUserStore::list_users(UserId after_id,
                                                                        std::size_t limit) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, std::string(kRecordColumns) + "WHERE id > ? ORDER BY id LIMIT ?");
    q.bind(1, static_cast<std::int64_t>(after_id));
    q.bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<UserRecord> out;
    while (q.executeStep()) out.push_back(read_record(q));
    return out;
  } catch (const SQLite::Exception& e) {
    return classify(e, "list users");
  }
}

Result<Unit, StoreError> SqliteUserStore::import_users(const std::vector<UserRecord>& users) {
  std::lock_guard lock(mutex_);
  try {
    // AUTOINCREMENT keeps sqlite_sequence at the largest id inserted, explicit ones included,
    // so later registrations continue above the imported ids.
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_,
                        "INSERT INTO users (id, username, password_hash, api_key_hash, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& u : users) {
      q.bind(1, static_cast<std::int64_t>(u.id));
      q.bind(2, u.username);
      q.bind(3, u.password_hash);
      bind_blob(q, 4, u.api_key_hash);
      q.bind(5, u.created_at);
      q.bind(6, u.updated_at);
      q.exec();
      q.reset();
    }
    tx.commit();
    return Unit{};
  } catch (const SQLite::Exception& e) {
    return classify(e, "import users");
  }
}

Result<Unit, StoreError> SqliteUserStore::delete_all_users() {
  std::lock_guard lock(mutex_);
  try {
    db_->exec("DELETE FROM users");
    return Unit{};
  } catch (const SQLite::Exception& e) {
    return classify(e, "delete all users");
  }
}

}  // namespace switchboard
