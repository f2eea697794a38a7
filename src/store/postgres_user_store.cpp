#include "switchboard/store/postgres_user_store.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "switchboard/store/migrations.hpp"
#include "switchboard/util/clock.hpp"

namespace switchboard {

/// One query parameter: text, or bytes sent as binary (bytea).
struct PostgresUserStore::Param {
  std::string value;
  bool binary = false;
};

namespace {

/// The advisory lock that serialises migrations across daemons ("switchboard" in ASCII).
constexpr std::int64_t kMigrationLock = 0x7377697463686264;
/// How long a call waits for a pooled connection when all are busy.
constexpr auto kLeaseWait = std::chrono::seconds(5);

/// The prepared statements every connection has, by name. Results come back in binary
/// form (integers in network order, text and bytea as their bytes).
struct Statement {
  const char* name;
  const char* sql;
};
const std::vector<Statement>& statements() {
  static const std::vector<Statement> all = {
      {"create",
       "INSERT INTO users (username, password_hash, api_key_hash, created_at, updated_at) "
       "VALUES ($1, $2, $3, $4, $4) RETURNING id"},
      {"find_name",
       "SELECT id, username, password_hash, api_key_hash, created_at, updated_at "
       "FROM users WHERE lower(username) = lower($1)"},
      {"find_key", "SELECT id, username FROM users WHERE api_key_hash = $1"},
      {"find_key_record",
       "SELECT id, username, password_hash, api_key_hash, created_at, "
       "updated_at FROM users WHERE api_key_hash = $1"},
      {"recent", "SELECT id, username, api_key_hash FROM users ORDER BY id DESC LIMIT $1"},
      {"update_password", "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1"},
      {"update_key", "UPDATE users SET api_key_hash = $2, updated_at = $3 WHERE id = $1"},
      {"delete", "DELETE FROM users WHERE id = $1"},
      {"list",
       "SELECT id, username, password_hash, api_key_hash, created_at, updated_at "
       "FROM users WHERE id > $1 ORDER BY id LIMIT $2"},
      {"import",
       "INSERT INTO users (id, username, password_hash, api_key_hash, created_at, updated_at) "
       "VALUES ($1, $2, $3, $4, $5, $6)"},
  };
  return all;
}

using Param = PostgresUserStore::Param;
Param text(std::string s) {
  return {std::move(s), false};
}
Param number(std::int64_t n) {
  return {std::to_string(n), false};
}
Param bytes(std::string s) {
  return {std::move(s), true};
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::int64_t read_int(const PGresult* r, int row, int col) {
  // Binary int8 (count(*) and our BIGINT columns): eight bytes, most significant first.
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<std::int64_t>(v);
}
std::string read_bytes(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}
UserRecord read_record(const PGresult* r, int row) {
  return UserRecord{static_cast<UserId>(read_int(r, row, 0)),
                    read_bytes(r, row, 1),
                    read_bytes(r, row, 2),
                    read_bytes(r, row, 3),
                    read_int(r, row, 4),
                    read_int(r, row, 5)};
}

/// libpq's error text on one line, for a log line.
std::string one_line(const char* message) {
  std::string s = message ? message : "";
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

/// "database D at HOST:PORT as USER", from the URL's parts: never the password.
std::string describe_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (!options) {
    std::string why = one_line(error);
    PQfreemem(error);
    throw std::runtime_error("DB_URL is not a PostgreSQL connection URI: " + why);
  }
  std::string host = "localhost", port = "5432", db, user;
  for (auto* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr") host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
    if (k == "user") user = o->val;
  }
  PQconninfoFree(options);
  std::string out = "PostgreSQL database " + (db.empty() ? user : db) + " at " + host + ":" + port;
  if (!user.empty()) out += " as " + user;
  return out;
}

}  // namespace

/// What went wrong with one attempt, and whether the connection survived it.
struct PostgresUserStore::DbFailure {
  enum Kind { connection_lost, unique_violation, not_found, other } kind;
  std::string message;
};

/// One libpq connection with the statements prepared. Used by one thread at a time.
class PostgresUserStore::Connection {
 public:
  /// Connects and, with `prepare`, prepares the statements (which needs the schema);
  /// nullptr and `error` set when the server cannot be reached or refuses us.
  static std::unique_ptr<Connection> open(const std::string& url, bool prepare,
                                          std::string& error) {
    // Our defaults first; the URL's own settings override them. connect_timeout bounds the
    // connect, the keepalive and user-timeout settings bound a wait on a server that vanished
    // without closing (a worker must not hang on it).
    const char* keys[] = {"connect_timeout",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "application_name",
                          "dbname",
                          nullptr};
    const char* values[] = {"5", "5", "2", "3", "10000", "switchboard", url.c_str(), nullptr};
    PGconn* raw = PQconnectdbParams(keys, values, 1);
    std::unique_ptr<Connection> c(new Connection(raw));
    if (!raw || PQstatus(raw) != CONNECTION_OK) {
      error = raw ? one_line(PQerrorMessage(raw)) : "out of memory";
      return nullptr;
    }
    if (prepare && !c->prepare(error)) return nullptr;
    return c;
  }

  bool prepare(std::string& error) {
    for (const auto& s : statements()) {
      PgResult r(PQprepare(conn_, s.name, s.sql, 0, nullptr));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        error = "preparing " + std::string(s.name) + ": " + one_line(PQerrorMessage(conn_));
        return false;
      }
    }
    return true;
  }

  ~Connection() {
    if (conn_) PQfinish(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs a prepared statement. Results come back in binary form.
  Attempt<PgResult> exec_prepared(const char* statement, const std::vector<Param>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : params) {
      values.push_back(p.value.c_str());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    PgResult r(PQexecPrepared(conn_, statement, static_cast<int>(params.size()), values.data(),
                              lengths.data(), formats.data(), 1));
    return check(std::move(r));
  }

  /// Runs SQL with no parameters (several statements allowed): migrations, transactions.
  Attempt<PgResult> exec_sql(const std::string& sql) {
    return check(
        PgResult(PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1)));
  }
  Attempt<PgResult> exec_script(const std::string& sql) {
    return check(PgResult(PQexec(conn_, sql.c_str())));
  }

  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}

  Attempt<PgResult> check(PgResult r) {
    auto status = PQresultStatus(r.get());
    if (r && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string message = one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    if (message.empty()) message = one_line(PQerrorMessage(conn_));
    std::string_view code = state ? state : "";
    if (code == "23505") return DbFailure{DbFailure::unique_violation, std::move(message)};
    // Class 08 is a connection exception; 57P01-57P03 a server shutting down or starting.
    if (!healthy() || code.starts_with("08") || code.starts_with("57P")) {
      return DbFailure{DbFailure::connection_lost, std::move(message)};
    }
    return DbFailure{DbFailure::other, std::move(message)};
  }

  PGconn* conn_;
};

class PostgresUserStore::Lease {
 public:
  Lease(PostgresUserStore& store, std::unique_ptr<Connection> c, bool fresh)
      : store_(&store), c_(std::move(c)), fresh_(fresh) {}
  Lease(Lease&& o) noexcept
      : store_(o.store_), c_(std::move(o.c_)), fresh_(o.fresh_), broken_(o.broken_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (!c_) return;
    bool healthy = !broken_ && c_->healthy();
    store_->give_back(std::move(c_), healthy);
  }
  Connection& operator*() { return *c_; }
  bool fresh() const { return fresh_; }
  void mark_broken() { broken_ = true; }

 private:
  PostgresUserStore* store_;
  std::unique_ptr<Connection> c_;
  bool fresh_;
  bool broken_ = false;
};

PostgresUserStore::PostgresUserStore(const std::string& url, unsigned pool_size)
    : url_(url), description_(describe_url(url)), pool_size_(std::max(1u, pool_size)) {
  std::string error;
  auto c = Connection::open(url_, false, error);
  if (!c) throw std::runtime_error("cannot connect to " + description_ + ": " + error);
  migrate(*c);
  if (!c->prepare(error)) throw std::runtime_error(description_ + ": " + error);
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(c));
  open_ = 1;
}

PostgresUserStore::~PostgresUserStore() = default;

std::string PostgresUserStore::describe() const {
  return description_;
}

void PostgresUserStore::migrate(Connection& c) {
  const auto& migrations = schema_migrations(SqlDialect::postgresql);
  auto must = [&](Attempt<PgResult> r, const std::string& step) {
    if (!r)
      throw std::runtime_error("migrating " + description_ + ": " + step + ": " +
                               r.error().message);
    return std::move(r).value();
  };
  // One transaction under a transaction-scoped advisory lock: a second daemon starting at the
  // same moment waits here, then finds the migrations applied. DDL is transactional in
  // PostgreSQL, so a failed step leaves nothing half done.
  must(c.exec_sql("BEGIN"), "begin");
  try {
    must(c.exec_sql("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")"),
         "lock");
    must(c.exec_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"),
         "create schema_migrations");
    auto version_row = must(
        c.exec_sql("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations"), "version");
    auto version = read_int(version_row.get(), 0, 0);
    if (version > static_cast<std::int64_t>(migrations.size())) {
      throw std::runtime_error("database schema version " + std::to_string(version) +
                               " is newer than this build knows (" +
                               std::to_string(migrations.size()) + ")");
    }
    for (auto i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
      must(c.exec_script(migrations[i].sql), migrations[i].name);
      must(c.exec_sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                      std::to_string(i + 1) + ", '" + migrations[i].name + "', " +
                      std::to_string(unix_seconds()) + ")"),
           "record " + std::string(migrations[i].name));
      spdlog::info("database migrated to schema version {} ({})", i + 1, migrations[i].name);
    }
    must(c.exec_sql("COMMIT"), "commit");
  } catch (...) {
    (void)c.exec_sql("ROLLBACK");
    throw;
  }
}

void PostgresUserStore::note_reachable(bool reachable, const std::string& why) {
  // Logged when it changes, not per request: an outage under load would flood the log.
  if (reachable_.exchange(reachable) == reachable) return;
  if (reachable) {
    spdlog::info("user store: {} reachable again", description_);
  } else {
    spdlog::error("user store: {} unreachable: {}", description_, why);
  }
}

Result<PostgresUserStore::Lease, StoreError> PostgresUserStore::lease(bool fresh) {
  {
    std::unique_lock lock(mutex_);
    // A fresh one (the caller's broke, and those idle beside it likely did too) waits for
    // no one and takes no idle connection.
    if (!fresh && !returned_.wait_for(lock, kLeaseWait,
                                      [&] { return !idle_.empty() || open_ < pool_size_; })) {
      spdlog::warn("user store: all {} connections busy for {} s", pool_size_,
                   std::chrono::duration_cast<std::chrono::seconds>(kLeaseWait).count());
      return StoreError::unavailable;
    }
    if (!fresh && !idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c), false);
    }
    ++open_;
  }
  std::string error;
  auto c = Connection::open(url_, true, error);
  if (!c) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    returned_.notify_one();
    note_reachable(false, error);
    return StoreError::unavailable;
  }
  note_reachable(true, {});
  return Lease(*this, std::move(c), true);
}

void PostgresUserStore::give_back(std::unique_ptr<Connection> c, bool healthy) {
  {
    std::lock_guard lock(mutex_);
    if (healthy) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }
  returned_.notify_one();
  c.reset();  // a broken connection is closed outside the lock
}

template <class T, class Op>
Result<T, StoreError> PostgresUserStore::run(const char* what, Op op) {
  std::optional<Lease> l;
  {
    auto leased = lease(false);
    if (!leased) return leased.error();
    l.emplace(std::move(leased).value());
  }
  Attempt<T> outcome = op(**l);
  if (!outcome && outcome.error().kind == DbFailure::connection_lost && !l->fresh()) {
    // A pooled connection that died while idle (a server restart): once more on a new one.
    l->mark_broken();
    l.reset();
    auto again = lease(true);
    if (!again) return again.error();
    l.emplace(std::move(again).value());
    outcome = op(**l);
  }
  if (outcome) return std::move(outcome).value();
  const DbFailure& f = outcome.error();
  switch (f.kind) {
    case DbFailure::unique_violation:
      return StoreError::username_taken;
    case DbFailure::not_found:
      return StoreError::not_found;
    case DbFailure::connection_lost:
      l->mark_broken();
      note_reachable(false, f.message);
      return StoreError::unavailable;
    case DbFailure::other:
      break;
  }
  spdlog::error("user store: {} failed: {}", what, f.message);
  return StoreError::unavailable;
}

Result<UserRecord, StoreError> PostgresUserStore::create_user(const std::string& username,
                                                              const std::string& password_hash,
                                                              const std::string& api_key_hash) {
  return run<UserRecord>("insert user", [&](Connection& c) -> Attempt<UserRecord> {
    auto now = unix_seconds();
    auto r = c.exec_prepared(
        "create", {text(username), text(password_hash), bytes(api_key_hash), number(now)});
    if (r) {
      return UserRecord{static_cast<UserId>(read_int(r.value().get(), 0, 0)),
                        username,
                        password_hash,
                        api_key_hash,
                        now,
                        now};
    }
    if (r.error().kind != DbFailure::unique_violation) return r.error();
    // A retry after a lost answer finds its own row: the key hash is ours alone.
    auto mine = c.exec_prepared("find_key_record", {bytes(api_key_hash)});
    if (mine && PQntuples(mine.value().get()) == 1) return read_record(mine.value().get(), 0);
    return r.error();
  });
}

Result<UserRecord, StoreError> PostgresUserStore::find_by_username(const std::string& username) {
  return run<UserRecord>("find user", [&](Connection& c) -> Attempt<UserRecord> {
    auto r = c.exec_prepared("find_name", {text(username)});
    if (!r) return r.error();
    if (PQntuples(r.value().get()) == 0) return DbFailure{DbFailure::not_found, {}};
    return read_record(r.value().get(), 0);
  });
}

Result<Identity, StoreError> PostgresUserStore::find_by_key_hash(const std::string& api_key_hash) {
  return run<Identity>("find key", [&](Connection& c) -> Attempt<Identity> {
    auto r = c.exec_prepared("find_key", {bytes(api_key_hash)});
    if (!r) return r.error();
    const PGresult* rows = r.value().get();
    if (PQntuples(rows) == 0) return DbFailure{DbFailure::not_found, {}};
    return Identity{static_cast<UserId>(read_int(rows, 0, 0)), read_bytes(rows, 0, 1),
                    api_key_hash};
  });
}

Result<std::vector<Identity>, StoreError> PostgresUserStore::recent_identities(std::size_t limit) {
  return run<std::vector<Identity>>(
      "list keys", [&](Connection& c) -> Attempt<std::vector<Identity>> {
        auto r = c.exec_prepared(
            "recent", {number(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)))});
        if (!r) return r.error();
        const PGresult* rows = r.value().get();
        std::vector<Identity> out;
        for (int i = 0; i < PQntuples(rows); ++i) {
          out.push_back(Identity{static_cast<UserId>(read_int(rows, i, 0)), read_bytes(rows, i, 1),
                                 read_bytes(rows, i, 2)});
        }
        return out;
      });
}

Result<Unit, StoreError> PostgresUserStore::change_one(const char* what, const char* statement,
                                                       UserId id, const Param* value) {
  return run<Unit>(what, [&](Connection& c) -> Attempt<Unit> {
    std::vector<Param> params{number(static_cast<std::int64_t>(id))};
    if (value) {
      params.push_back(*value);
      params.push_back(number(unix_seconds()));
    }
    auto r = c.exec_prepared(statement, params);
    if (!r) return r.error();
    const char* changed = PQcmdTuples(r.value().get());
    if (changed && std::strcmp(changed, "0") == 0) return DbFailure{DbFailure::not_found, {}};
    return Unit{};
  });
}

Result<Unit, StoreError> PostgresUserStore::update_password(UserId id,
                                                            const std::string& password_hash) {
  auto value = text(password_hash);
  return change_one("update password", "update_password", id, &value);
}

Result<Unit, StoreError> PostgresUserStore::update_api_key(UserId id,
                                                           const std::string& api_key_hash) {
  auto value = bytes(api_key_hash);
  return change_one("update key", "update_key", id, &value);
}

Result<Unit, StoreError> PostgresUserStore::delete_user(UserId id) {
  return change_one("delete user", "delete", id, nullptr);
}

Result<std::uint64_t, StoreError> PostgresUserStore::count_users() {
  return run<std::uint64_t>("count users", [&](Connection& c) -> Attempt<std::uint64_t> {
    auto r = c.exec_sql("SELECT count(*) FROM users");
    if (!r) return r.error();
    return static_cast<std::uint64_t>(read_int(r.value().get(), 0, 0));
  });
}

Result<std::vector<UserRecord>, StoreError> PostgresUserStore::list_users(UserId after_id,
                                                                          std::size_t limit) {
  return run<std::vector<UserRecord>>(
      "list users", [&](Connection& c) -> Attempt<std::vector<UserRecord>> {
        auto r = c.exec_prepared(
            "list", {number(static_cast<std::int64_t>(after_id)),
                     number(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)))});
        if (!r) return r.error();
        std::vector<UserRecord> out;
        for (int i = 0; i < PQntuples(r.value().get()); ++i) {
          out.push_back(read_record(r.value().get(), i));
        }
        return out;
      });
}

Result<Unit, StoreError> PostgresUserStore::import_users(const std::vector<UserRecord>& users) {
  return run<Unit>("import users", [&](Connection& c) -> Attempt<Unit> {
    auto step = [&](Attempt<PgResult> r) -> std::optional<DbFailure> {
      if (r) return std::nullopt;
      (void)c.exec_sql("ROLLBACK");
      return r.error();
    };
    if (auto f = step(c.exec_sql("BEGIN"))) return *f;
    for (const auto& u : users) {
      auto f =
          step(c.exec_prepared("import", {number(static_cast<std::int64_t>(u.id)), text(u.username),
                                          text(u.password_hash), bytes(u.api_key_hash),
                                          number(u.created_at), number(u.updated_at)}));
      if (f) return *f;
    }
    // Explicit ids do not move the identity's sequence: later registrations must start
    // above every id there is.
    if (auto f = step(c.exec_sql("SELECT setval(pg_get_serial_sequence('users', 'id'), "
                                 "coalesce(max(id), 0) + 1, false) FROM users"))) {
      return *f;
    }
    if (auto f = step(c.exec_sql("COMMIT"))) return *f;
    return Unit{};
  });
}

Result<Unit, StoreError> PostgresUserStore::delete_all_users() {
  return run<Unit>("delete all users", [&](Connection& c) -> Attempt<Unit> {
    auto r = c.exec_sql("DELETE FROM users");
    if (!r) return r.error();
    return Unit{};
  });
}

Result<Unit, StoreError> PostgresUserStore::ping() {
  return run<Unit>("ping", [&](Connection& c) -> Attempt<Unit> {
    auto r = c.exec_sql("SELECT 1");
    if (!r) return r.error();
    return Unit{};
  });
}

Result<int, StoreError> PostgresUserStore::schema_version() {
  return run<int>("read schema version", [&](Connection& c) -> Attempt<int> {
    auto r = c.exec_sql("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations");
    if (!r) return r.error();
    return static_cast<int>(read_int(r.value().get(), 0, 0));
  });
}

}  // namespace switchboard
