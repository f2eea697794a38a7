#include "switchboard/store/user_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "switchboard/store/migrations.hpp"

namespace switchboard {

const char* to_string(StoreError e) {
  switch (e) {
    case StoreError::username_taken:
      return "username_taken";
    case StoreError::not_found:
      return "not_found";
    case StoreError::unavailable:
      return "unavailable";
  }
  return "unknown";
}

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

}  // namespace

UserStore::UserStore(const std::string& path)
    : db_(std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)) {
  // Wait for another writer (a backup, a second process) briefly before reporting busy.
  db_->setBusyTimeout(2000);
  db_->exec("PRAGMA journal_mode = WAL");
  // FULL: a transaction is on disk before we answer 201, even across power loss.
  db_->exec("PRAGMA synchronous = FULL");
  db_->exec("PRAGMA foreign_keys = ON");
  migrate();
}

UserStore::~UserStore() = default;

void UserStore::migrate() {
  const auto& migrations = schema_migrations();
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

int UserStore::schema_version() {
  std::lock_guard lock(mutex_);
  return db_->execAndGet("PRAGMA user_version").getInt();
}

Result<UserRecord, StoreError> UserStore::create_user(const std::string& username,
                                                      const std::string& password_hash,
                                                      const std::string& api_key_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO users (username, password_hash, api_key_hash, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?)");
    auto now = unix_now();
    q.bind(1, username);
    q.bind(2, password_hash);
    q.bind(3, api_key_hash.data(), static_cast<int>(api_key_hash.size()));
    q.bind(4, now);
    q.bind(5, now);
    q.exec();
    return UserRecord{static_cast<UserId>(db_->getLastInsertRowid()), username, password_hash,
                      api_key_hash};
  } catch (const SQLite::Exception& e) {
    return classify(e, "insert user");
  }
}

Result<UserRecord, StoreError> UserStore::find_by_username(const std::string& username) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT id, username, password_hash, api_key_hash FROM users "
                        "WHERE username = ?");
    q.bind(1, username);
    if (!q.executeStep()) return StoreError::not_found;
    return UserRecord{static_cast<UserId>(q.getColumn(0).getInt64()), q.getColumn(1).getString(),
                      q.getColumn(2).getString(), column_blob(q, 3)};
  } catch (const SQLite::Exception& e) {
    return classify(e, "find user");
  }
}

Result<Identity, StoreError> UserStore::find_by_key_hash(const std::string& api_key_hash) {
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
    q.bind(1, api_key_hash.data(), static_cast<int>(api_key_hash.size()));
    if (!q.executeStep()) return StoreError::not_found;
    return Identity{static_cast<UserId>(q.getColumn(0).getInt64()), q.getColumn(1).getString(),
                    api_key_hash};
  } catch (const SQLite::Exception& e) {
    return classify(e, "find key");
  }
}

Result<std::vector<Identity>, StoreError> UserStore::recent_identities(std::size_t limit) {
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

Result<Unit, StoreError> UserStore::update_password(UserId id, const std::string& password_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?");
    q.bind(1, password_hash);
    q.bind(2, unix_now());
    q.bind(3, static_cast<std::int64_t>(id));
    if (q.exec() == 0) return StoreError::not_found;
    return Unit{};
  } catch (const SQLite::Exception& e) {
    return classify(e, "update password");
  }
}

Result<Unit, StoreError> UserStore::update_api_key(UserId id, const std::string& api_key_hash) {
  std::lock_guard lock(mutex_);
  try {
    SQLite::Statement q(*db_, "UPDATE users SET api_key_hash = ?, updated_at = ? WHERE id = ?");
    q.bind(1, api_key_hash.data(), static_cast<int>(api_key_hash.size()));
    q.bind(2, unix_now());
    q.bind(3, static_cast<std::int64_t>(id));
    if (q.exec() == 0) return StoreError::not_found;
    return Unit{};
  } catch (const SQLite::Exception& e) {
    return classify(e, "update key");
  }
}

}  // namespace switchboard
