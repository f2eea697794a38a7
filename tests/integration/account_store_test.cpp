// The account store behind the daemon: PostgreSQL going away and coming back under load, and
// `switchboard accounts copy` between the two stores. (The API's behaviour on each store is
// rest_api_test's parameterised suite; the stores' own, tests/unit/user_store_test.)
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "switchboard/auth/api_key.hpp"
#include "switchboard/store/postgres_user_store.hpp"
#include "switchboard/store/sqlite_user_store.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// Registrations from several threads until stopped, tallied by outcome; a waiter is woken
/// on every answer.
class RegistrationLoad {
 public:
  RegistrationLoad(std::uint16_t port, int threads) : port_(port) {
    for (int w = 0; w < threads; ++w) {
      threads_.emplace_back([this, w] {
        for (int i = 0; !stop_; ++i) {
          std::string name = "r" + std::to_string(w) + "_" + std::to_string(i);
          auto r =
              http_post_json(port_, "/register", {{"Username", name}, {"Password", "password1"}});
          std::lock_guard lock(mutex_);
          if (r.status == 201) {
            acknowledged_.emplace_back(name, r.json_body["api_key"].get<std::string>());
          } else if (r.status == 503 && r.error_code() == "unavailable") {
            ++unavailable_;
          } else {
            unexpected_.push_back(std::to_string(r.status) + " " + r.body + r.error);
          }
          changed_.notify_all();
        }
      });
    }
  }
  ~RegistrationLoad() { finish(); }

  void finish() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  /// Waits (bounded) until `done()` holds over the tallies; false at the timeout.
  template <class Pred>
  bool wait(Pred done, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout,
                             [&] { return done(acknowledged_.size(), unavailable_); });
  }

  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> acknowledged_;  // name, API key
  std::size_t unavailable_ = 0;
  std::vector<std::string> unexpected_;

 private:
  std::uint16_t port_;
  std::atomic<bool> stop_{false};
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
};

TEST(PostgresOutage, RestartUnderLoadIsAnswered503ThenRecoversAndLosesNothingAcknowledged) {
  PostgresServer postgres(true);
  const std::string url = create_database(postgres.url());
  TestServer server([&](Settings& s) {
    s.db_url = url;
    s.hash_queue_limit = 1000;
  });
  RegistrationLoad load(server.port(), 4);
  ASSERT_TRUE(load.wait([](std::size_t ok, std::size_t) { return ok >= 20; }));

  // As a crash: no checkpoint, every connection cut.
  postgres.stop("immediate");
  std::size_t before_outage = 0;
  {
    std::lock_guard lock(load.mutex_);
    before_outage = load.acknowledged_.size();
  }
  ASSERT_TRUE(load.wait([](std::size_t, std::size_t unavailable) { return unavailable >= 10; }))
      << "requests during the outage were not answered 503";

  postgres.start();
  ASSERT_TRUE(load.wait([&](std::size_t ok, std::size_t) { return ok >= before_outage + 20; }))
      << "the daemon did not recover by itself";
  load.finish();
  server.stop();

  std::lock_guard lock(load.mutex_);
  EXPECT_TRUE(load.unexpected_.empty()) << load.unexpected_.front();
  // Every acknowledged registration is in the database, with the key it was given.
  PostgresUserStore check(url, 1);
  for (const auto& [name, key] : load.acknowledged_) {
    auto who = check.find_by_key_hash(hash_api_key(key));
    ASSERT_TRUE(who.ok()) << name << " was answered 201 but is not in the database";
    EXPECT_EQ(who.value().username, name);
  }
  EXPECT_GE(check.count_users().value(), load.acknowledged_.size());
}

TEST(PostgresOutage, ADaemonWhoseDatabaseCannotBeReachedStopsWithOneLineAndNoPassword) {
  TempDir dir;
  auto env = std::map<std::string, std::string>{
      {"SERVER_HOST", "127.0.0.1"},
      {"SERVER_PORT", "0"},
      {"DB_URL", "postgresql://switchboard:Pw-Marker-31@127.0.0.1:1/switchboard"}};
  DaemonProcess d({}, env, dir.file("log"));
  EXPECT_EQ(d.wait_listening(), 0);
  EXPECT_EQ(d.wait_exit(), 1);
  std::ifstream in(dir.file("log"));
  std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("cannot start: cannot connect to PostgreSQL database switchboard at "
                     "127.0.0.1:1 as switchboard"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("Pw-Marker-31"), std::string::npos) << log;
}

// --- switchboard accounts copy

struct Command {
  int status = -1;
  std::string out;
  std::string err;
};

Command switchboard_command(const TempDir& dir, const std::vector<std::string>& args) {
  auto log = dir.file("command.err");
  std::filesystem::remove(log);
  DaemonProcess p(args, {}, log);
  Command c;
  EXPECT_TRUE(p.read_stdout_to_end());
  c.status = p.wait_exit().value_or(-1);
  c.out = p.stdout_text();
  std::ifstream in(log);
  c.err.assign(std::istreambuf_iterator<char>(in), {});
  return c;
}

std::map<std::string, std::string> daemon_env(const TempDir& dir) {
  return {{"SERVER_HOST", "127.0.0.1"}, {"SERVER_PORT", "0"},        {"DB_PATH", dir.file("sb.db")},
          {"ARGON2_OPSLIMIT", "1"},     {"ARGON2_MEMLIMIT", "8192"}, {"WEB_ROOT", ""}};
}

struct Account {
  std::string name;
  std::string password;
  std::string key;
  std::uint64_t id = 0;
};

/// Accounts made through the API of a daemon on `env`'s store: registered, one with a
/// rotated key, one with a changed password.
std::vector<Account> make_accounts(const TempDir& dir, std::map<std::string, std::string> env) {
  DaemonProcess d({}, env, dir.file("daemon.log"));
  auto port = d.wait_listening();
  EXPECT_NE(port, 0);
  std::vector<Account> out;
  for (std::string name : {"alice", "bob", "Carol", "dave", "erin"}) {
    auto r = http_post_json(port, "/register", {{"Username", name}, {"Password", "password1"}});
    EXPECT_EQ(r.status, 201) << r.body;
    out.push_back({name, "password1", r.json_body.value("api_key", ""),
                   r.json_body.value("user_id", std::uint64_t{0})});
  }
  auto rotated =
      http_post_json(port, "/regenerate", {{"Username", "bob"}, {"Password", "password1"}});
  EXPECT_EQ(rotated.status, 200);
  out[1].key = rotated.json_body.value("api_key", "");
  auto changed = http_post_json(
      port, "/updatepassword",
      {{"Username", "dave"}, {"Password", "password1"}, {"new_password", "another password"}});
  EXPECT_EQ(changed.status, 200) << changed.body;
  out[3].password = "another password";
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
  return out;
}

/// Starts a daemon on `env`'s store and checks that every account works as it did: its key,
/// its password, its id; and that a new registration gets a new id.
void expect_accounts_work(const TempDir& dir, std::map<std::string, std::string> env,
                          const std::vector<Account>& accounts) {
  DaemonProcess d({}, env, dir.file("daemon.log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  std::uint64_t highest = 0;
  for (const auto& a : accounts) {
    auto ticket = http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", a.key}});
    EXPECT_EQ(ticket.status, 200) << a.name << "'s API key does not work after the copy";
    auto login =
        http_post_json(port, "/regenerate", {{"Username", a.name}, {"Password", a.password}});
    EXPECT_EQ(login.status, 200) << a.name << "'s password does not work after the copy";
    EXPECT_EQ(login.json_body.value("user_id", std::uint64_t{0}), a.id) << a.name;
    highest = std::max(highest, a.id);
  }
  auto fresh =
      http_post_json(port, "/register", {{"Username", "newcomer"}, {"Password", "pw123456"}});
  ASSERT_EQ(fresh.status, 201) << fresh.body;
  EXPECT_GT(fresh.json_body.value("user_id", std::uint64_t{0}), highest);
  auto taken = http_post_json(port, "/register", {{"Username", "CAROL"}, {"Password", "pw123456"}});
  EXPECT_EQ(taken.status, 409);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(AccountsCopy, SqliteToPostgresKeepsPasswordsKeysAndIds) {
  TempDir dir;
  auto accounts = make_accounts(dir, daemon_env(dir));
  const std::string url = fresh_postgres_database();

  auto copy = switchboard_command(
      dir, {"accounts", "copy", "--from", "sqlite:" + dir.file("sb.db"), "--to", url});
  ASSERT_EQ(copy.status, 0) << copy.err;
  EXPECT_NE(copy.out.find("copied 5 accounts"), std::string::npos) << copy.out;
  EXPECT_NE(copy.out.find("target holds 5"), std::string::npos) << copy.out;

  auto env = daemon_env(dir);
  env["DB_URL"] = url;
  env["DB_PATH"] = dir.file("unused.db");
  expect_accounts_work(dir, env, accounts);
}

TEST(AccountsCopy, PostgresToSqliteKeepsPasswordsKeysAndIds) {
  TempDir dir;
  const std::string url = fresh_postgres_database();
  auto env = daemon_env(dir);
  env["DB_URL"] = url;
  auto accounts = make_accounts(dir, env);

  auto copy = switchboard_command(
      dir, {"accounts", "copy", "--from", url, "--to", "sqlite:" + dir.file("copy.db")});
  ASSERT_EQ(copy.status, 0) << copy.err;
  EXPECT_NE(copy.out.find("copied 5 accounts"), std::string::npos) << copy.out;

  auto sqlite_env = daemon_env(dir);
  sqlite_env["DB_PATH"] = dir.file("copy.db");
  expect_accounts_work(dir, sqlite_env, accounts);
}

TEST(AccountsCopy, ANonEmptyTargetIsRefusedUnlessReplaced) {
  TempDir dir;
  {
    SqliteUserStore source(dir.file("source.db"));
    ASSERT_TRUE(source.create_user("alice", "h", hash_api_key("key-a")).ok());
    ASSERT_TRUE(source.create_user("bob", "h", hash_api_key("key-b")).ok());
  }
  const std::string url = fresh_postgres_database();
  {
    PostgresUserStore target(url, 1);
    ASSERT_TRUE(target.create_user("zed", "h", hash_api_key("key-z")).ok());
  }
  std::vector<std::string> args = {"accounts", "copy", "--from", dir.file("source.db"),
                                   "--to",     url};
  auto refused = switchboard_command(dir, args);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("already holds 1 accounts"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--replace"), std::string::npos) << refused.err;
  {
    PostgresUserStore target(url, 1);
    EXPECT_EQ(target.count_users().value(), 1u);
    EXPECT_TRUE(target.find_by_username("zed").ok());
  }

  args.push_back("--replace");
  auto replaced = switchboard_command(dir, args);
  ASSERT_EQ(replaced.status, 0) << replaced.err;
  EXPECT_NE(replaced.out.find("copied 2 accounts"), std::string::npos) << replaced.out;
  PostgresUserStore target(url, 1);
  EXPECT_EQ(target.count_users().value(), 2u);
  EXPECT_FALSE(target.find_by_username("zed").ok());
  EXPECT_TRUE(target.find_by_key_hash(hash_api_key("key-b")).ok());
}

TEST(AccountsCopy, BadInvocationsExplainThemselves) {
  TempDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"accounts"},
           {"accounts", "move"},
           {"accounts", "copy", "--from", dir.file("a.db")},
           {"accounts", "copy", "--from", dir.file("a.db"), "--to", dir.file("a.db")},
           {"accounts", "copy", "--from", dir.file("a.db"), "--to", dir.file("b.db"), "--force"}}) {
    auto c = switchboard_command(dir, args);
    EXPECT_EQ(c.status, 2) << args.back();
    EXPECT_NE(c.err.find("usage: switchboard accounts copy"), std::string::npos)
        << args.back() << ": " << c.err;
  }
  // A source that cannot be reached: exit 1 with the reason, no password shown.
  auto c = switchboard_command(
      dir, {"accounts", "copy", "--from", "postgresql://u:Pw-Marker-77@127.0.0.1:1/db", "--to",
            dir.file("b.db")});
  EXPECT_EQ(c.status, 1);
  EXPECT_NE(c.err.find("cannot connect"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("Pw-Marker-77"), std::string::npos) << c.err;
}

}  // namespace
}  // namespace switchboard::test
