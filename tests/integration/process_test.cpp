// What only the real binary as a process can show: the listening line, exit codes, signals,
// configuration precedence, and durability across kill -9.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;

std::map<std::string, std::string> base_env(const TempDir& dir) {
  return daemon_test_env(dir.file("sb.db"));
}

TEST(Process, PrintsListeningLineWithTheRealPort) {
  TempDir dir;
  DaemonProcess d({}, base_env(dir), dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0) << d.stdout_text();
  EXPECT_EQ(d.stdout_text(), "listening on http://127.0.0.1:" + std::to_string(port) + "\n");
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);
}

TEST(Process, InvalidSettingExitsWithCode2AndNamesIt) {
  TempDir dir;
  auto env = base_env(dir);
  env["ROOMS_PER_USER"] = "many";
  DaemonProcess d({}, env, dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 2);
  auto log = read_file(dir.file("log"));
  EXPECT_NE(log.find("rooms_per_user"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST(Process, UnknownFlagExitsWithCode2) {
  TempDir dir;
  DaemonProcess d({"--no-such-flag", "1"}, base_env(dir), dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 2);
}

TEST(Process, FlagsBeatEnvironmentBeatConfigFile) {
  TempDir dir;
  std::ofstream(dir.file("sb.conf")) << "# test config\nserver_host = 127.0.0.3\n"
                                     << "server_port = 0\nticket_ttl = 11\n"
                                     << "rooms_per_user = 3\n";
  auto env = base_env(dir);
  env.erase("SERVER_HOST");
  {
    DaemonProcess d({"--config", dir.file("sb.conf")}, env, dir.file("log"));
    ASSERT_NE(d.wait_listening(), 0);
    EXPECT_NE(d.stdout_text().find("http://127.0.0.3:"), std::string::npos) << d.stdout_text();
  }
  env["SERVER_HOST"] = "127.0.0.2";
  {
    DaemonProcess d({"--config", dir.file("sb.conf")}, env, dir.file("log"));
    ASSERT_NE(d.wait_listening(), 0);
    EXPECT_NE(d.stdout_text().find("http://127.0.0.2:"), std::string::npos) << d.stdout_text();
  }
  {
    DaemonProcess d({"--config", dir.file("sb.conf"), "--server-host=127.0.0.1"}, env,
                    dir.file("log"));
    auto port = d.wait_listening();
    ASSERT_NE(port, 0);
    EXPECT_NE(d.stdout_text().find("http://127.0.0.1:"), std::string::npos) << d.stdout_text();
    // The file's other settings still apply: tickets last 11 s.
    auto reg = http_post_json(port, "/register", {{"Username", "cfg"}, {"Password", "password1"}});
    auto t = http_request(port, "POST", "/ws-ticket", "",
                          {{"X-API-Key", reg.json_body.value("api_key", "")}});
    EXPECT_EQ(t.json_body["expires_in"], 11);
  }
}

TEST(Process, SigtermClosesWebSocketsWith1001AndExitsZero) {
  TempDir dir;
  DaemonProcess d({}, base_env(dir), dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  auto reg = http_post_json(port, "/register", {{"Username", "sig"}, {"Password", "password1"}});
  WsClient ws;
  ws.connect_with_key(port, reg.json_body.value("api_key", ""));
  d.signal(SIGTERM);
  EXPECT_EQ(ws.wait_closed(std::chrono::seconds(10)), 1001);
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(Process, SigintExitsZero) {
  TempDir dir;
  DaemonProcess d({}, base_env(dir), dir.file("log"));
  ASSERT_NE(d.wait_listening(), 0);
  d.signal(SIGINT);
  EXPECT_EQ(d.wait_exit(), 0);
}

/// Registrations from several threads, and key rotations of a few fixed accounts, until
/// `stop`; records what the daemon acknowledged.
class AccountLoad {
 public:
  explicit AccountLoad(std::uint16_t port) : port_(port) {
    for (int i = 0; i < 3; ++i) {
      std::string name = "rot" + std::to_string(i);
      auto r = http_post_json(port, "/register", {{"Username", name}, {"Password", "password1"}});
      rotations_.push_back({name, r.json_body.value("api_key", ""), false});
    }
    for (int w = 0; w < 3; ++w) {
      threads_.emplace_back([this, w] {
        for (int i = 0; !stop_; ++i) {
          std::string name = "k" + std::to_string(w) + "_" + std::to_string(i);
          auto r =
              http_post_json(port_, "/register", {{"Username", name}, {"Password", "password1"}});
          if (r.status != 201) break;  // the daemon is going or gone
          std::lock_guard lock(mutex_);
          registered_.emplace_back(name, r.json_body["api_key"].get<std::string>());
        }
      });
    }
    threads_.emplace_back([this] {
      for (int i = 0; !stop_; ++i) {
        auto& acct = rotations_[static_cast<std::size_t>(i) % rotations_.size()];
        {
          std::lock_guard lock(mutex_);
          acct.in_flight = true;
        }
        auto r = http_post_json(port_, "/regenerate",
                                {{"Username", acct.name}, {"Password", "password1"}});
        std::lock_guard lock(mutex_);
        if (r.status != 200) break;  // leave in_flight set: its outcome is unknown
        acct.key = r.json_body["api_key"].get<std::string>();
        acct.in_flight = false;
        ++rotated_;
      }
    });
  }
  ~AccountLoad() { finish(); }

  std::size_t registered() {
    std::lock_guard lock(mutex_);
    return registered_.size();
  }
  int rotated() {
    std::lock_guard lock(mutex_);
    return rotated_;
  }
  void finish() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  /// Checks, against a restarted daemon on `port`, that everything acknowledged is there.
  void verify(std::uint16_t port) {
    std::lock_guard lock(mutex_);
    for (const auto& [name, key] : registered_) {
      auto r = http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", key}});
      EXPECT_EQ(r.status, 200) << name << " was answered 201 but is gone";
    }
    for (const auto& acct : rotations_) {
      // A rotation cut off mid-request may or may not have landed; any other must have.
      if (acct.in_flight) continue;
      auto r = http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", acct.key}});
      EXPECT_EQ(r.status, 200) << acct.name << "'s acknowledged key does not work";
    }
  }

 private:
  struct Rotation {
    std::string name;
    std::string key;
    bool in_flight;
  };
  std::uint16_t port_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::vector<std::pair<std::string, std::string>> registered_;
  std::vector<Rotation> rotations_;
  int rotated_ = 0;
  std::vector<std::thread> threads_;
};

/// Waits (bounded) until `load` has at least `n` registrations and a few rotations answered.
void wait_for_progress(AccountLoad& load, std::size_t n) {
  for (int i = 0; i < 4000 && (load.registered() < n || load.rotated() < 5); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a counter
  }
}

/// Starts the daemon again on the same database and checks all that `load` saw acknowledged.
void verify_after_restart(const std::map<std::string, std::string>& env, const TempDir& dir,
                          AccountLoad& load) {
  DaemonProcess again({}, env, dir.file("log"));
  auto port = again.wait_listening();
  ASSERT_NE(port, 0);
  load.verify(port);
}

TEST(Process, KillDashNineLosesNothingAcknowledged) {
  TempDir dir;
  auto env = base_env(dir);
  DaemonProcess d({}, env, dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  AccountLoad load(port);
  wait_for_progress(load, 60);
  d.signal(SIGKILL);
  EXPECT_EQ(d.wait_exit(), 128 + SIGKILL);
  load.finish();
  ASSERT_GE(load.registered(), 60u);
  {
    SQLite::Database db(dir.file("sb.db"), SQLite::OPEN_READWRITE);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  }
  verify_after_restart(env, dir, load);
}

TEST(Process, SigtermUnderLoadLosesNothingAcknowledged) {
  TempDir dir;
  auto env = base_env(dir);
  DaemonProcess d({}, env, dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  auto alice =
      http_post_json(port, "/register", {{"Username", "alice"}, {"Password", "password1"}});
  WsClient ws;
  ws.connect_with_key(port, alice.json_body.value("api_key", ""));
  AccountLoad load(port);
  wait_for_progress(load, 30);
  d.signal(SIGTERM);
  EXPECT_EQ(ws.wait_closed(std::chrono::seconds(10)), 1001);
  EXPECT_EQ(d.wait_exit(), 0);
  load.finish();
  verify_after_restart(env, dir, load);
}

TEST(Process, SecretsNeverReachTheLogsOrTheDatabase) {
  TempDir dir;
  auto env = base_env(dir);
  env["LOG_LEVEL"] = "trace";
  std::vector<std::string> secrets;
  {
    DaemonProcess d({}, env, dir.file("log"));
    auto port = d.wait_listening();
    ASSERT_NE(port, 0);
    std::string pw1 = "first-Secret-passphrase";
    std::string pw2 = "second-Secret-passphrase";
    auto a = http_post_json(port, "/register", {{"Username", "alice"}, {"Password", pw1}});
    auto b = http_post_json(port, "/register", {{"Username", "bob"}, {"Password", pw1 + "b"}});
    std::string key_a = a.json_body.value("api_key", "");
    std::string key_b = b.json_body.value("api_key", "");
    auto t = http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", key_a}});
    std::string ticket = t.json_body.value("ticket", "");
    ASSERT_FALSE(key_a.empty() || key_b.empty() || ticket.empty());
    {
      WsClient wa;
      WsClient wb;
      ASSERT_EQ(wa.connect(port, "/ws?ticket=" + ticket), 101);
      wa.expect(12);
      wb.connect_with_key(port, key_b);
      wa.send_json({{"msg_type", 0}});
      auto room = wa.expect(5)["payload"].value("room_id", "");
      wb.send_json({{"msg_type", 1}, {"payload", {{"room_id", room}}}});
      wb.expect(6);
      wa.send_json(
          {{"msg_type", 2},
           {"to", b.json_body["user_id"]},
           {"payload", {{"room_id", room}, {"sdp", {{"type", "offer"}, {"sdp", "v=0"}}}}}});
      wb.expect(2);
    }
    http_post_json(port, "/regenerate", {{"Username", "alice"}, {"Password", "wrong-password"}});
    http_post_json(port, "/updatepassword",
                   {{"Username", "alice"}, {"Password", pw1}, {"NewPassword", pw2}});
    auto rotated = http_post_json(port, "/regenerate", {{"Username", "alice"}, {"Password", pw2}});
    secrets = {pw1, pw2, pw1 + "b", key_a, key_b, ticket, rotated.json_body.value("api_key", "")};
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(), 0);
  }
  auto log = read_file(dir.file("log"));
  EXPECT_NE(log.find("trace"), std::string::npos) << "trace logging was not on";
  std::string stored;
  for (const char* suffix : {"", "-wal", "-shm"}) stored += read_file(dir.file("sb.db") + suffix);
  EXPECT_GT(stored.size(), 0u);
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(log.find(secret), std::string::npos) << "a secret is in the log";
    EXPECT_EQ(stored.find(secret), std::string::npos) << "a secret is in the database files";
  }
}

}  // namespace
}  // namespace switchboard::test
