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
  return {{"SERVER_HOST", "127.0.0.1"}, {"SERVER_PORT", "0"},        {"DB_PATH", dir.file("sb.db")},
          {"ARGON2_OPSLIMIT", "1"},     {"ARGON2_MEMLIMIT", "8192"}, {"WEB_ROOT", ""},
          {"LOG_LEVEL", "info"}};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
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

TEST(Process, KillDashNineLosesNoAnsweredRegistration) {
  TempDir dir;
  auto env = base_env(dir);
  std::vector<std::pair<std::string, std::string>> answered;  // username, api key
  {
    DaemonProcess d({}, env, dir.file("log"));
    auto port = d.wait_listening();
    ASSERT_NE(port, 0);
    std::mutex mutex;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop; ++i) {
          std::string name = "k" + std::to_string(w) + "_" + std::to_string(i);
          auto r =
              http_post_json(port, "/register", {{"Username", name}, {"Password", "password1"}});
          if (r.status != 201) break;  // the daemon is gone
          std::lock_guard lock(mutex);
          answered.emplace_back(name, r.json_body["api_key"].get<std::string>());
        }
      });
    }
    // Kill once a good number have been answered, while the writers are still going.
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard lock(mutex);
        if (answered.size() >= 60) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    d.signal(SIGKILL);
    EXPECT_EQ(d.wait_exit(), 128 + SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();
  }
  ASSERT_GE(answered.size(), 60u);
  {
    SQLite::Database db(dir.file("sb.db"), SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  }
  DaemonProcess again({}, env, dir.file("log"));
  auto port = again.wait_listening();
  ASSERT_NE(port, 0);
  for (const auto& [name, key] : answered) {
    auto r = http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", key}});
    EXPECT_EQ(r.status, 200) << name << " was answered 201 but is gone";
  }
}

}  // namespace
}  // namespace switchboard::test
