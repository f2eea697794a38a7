// Running it the way operators do: /readyz, the drain on SIGTERM, json logs, and systemd's
// notify socket and watchdog, each against the real daemon.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int kCreateRoom = 0;
constexpr int kJoinRoom = 1;
constexpr int kSdp = 2;
constexpr int kRoomCreated = 5;
constexpr int kRoomJoined = 6;
constexpr int kPeerJoined = 8;

std::map<std::string, std::string> base_env(const TempDir& dir) {
  return daemon_test_env(dir.file("sb.db"));
}

/// Asks /readyz until `status` comes back (each answer may be up to a second old); false if
/// it has not within `timeout`.
bool await_readyz(std::uint16_t port, int status, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_request(port, "GET", "/readyz").status == status) return true;
    std::this_thread::sleep_for(50ms);  // polling a state the daemon changes by itself
  }
  return false;
}

std::string register_key(std::uint16_t port, const std::string& name) {
  auto r = http_post_json(port, "/register", {{"Username", name}, {"Password", "password1"}});
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json_body.value("api_key", "");
}

// --- /readyz

TEST(Readyz, ReadyWithTheStoreUpAndHealthzUnchanged) {
  TestServer server;
  auto r = http_request(server.port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json_body, json({{"status", "ready"}}));
  EXPECT_EQ(http_request(server.port(), "HEAD", "/readyz").status, 200);
  auto post =
      http_request(server.port(), "POST", "/readyz", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.error_code(), "method_not_allowed");
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").json_body, json({{"status", "ok"}}));
}

TEST(Readyz, UnavailableWhilePostgresqlIsDownThenReadyAgain) {
  PostgresServer postgres;
  const std::string url = create_database(postgres.url());
  TestServer server([&](Settings& s) { s.db_url = url; });
  ASSERT_EQ(http_request(server.port(), "GET", "/readyz").status, 200);

  postgres.stop("fast");
  ASSERT_TRUE(await_readyz(server.port(), 503)) << "/readyz stayed 200 with the store down";
  auto down = http_request(server.port(), "GET", "/readyz");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.error_code(), "unavailable");
  EXPECT_EQ(down.header("retry-after"), "1");
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200)
      << "the process is alive all the same";

  postgres.start();
  EXPECT_TRUE(await_readyz(server.port(), 200)) << "/readyz did not recover by itself";
}

// With room for one worker job only, a flood of probes is all answered 200: the probe never
// puts a second store question in the queue (one that did would be refused, and answered 503).
TEST(Readyz, AProbeFloodAsksTheStoreOneQuestionAtATime) {
  TestServer server([](Settings& s) {
    s.worker_threads = 1;
    s.hash_queue_limit = 1;
  });
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<int> other{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto status = http_request(server.port(), "GET", "/readyz").status;
        (status == 200 ? ready : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ready.load(), 200);
  EXPECT_EQ(other.load(), 0);
}

// --- DRAIN_SECONDS

/// Two connected users in one room, `a` able to send SDP to `b`.
struct RoomPair {
  RoomPair(std::uint16_t port, const std::string& key_a, const std::string& key_b) {
    welcome_b = b.connect_with_key(port, key_b);
    user_b = welcome_b["payload"].value("user_id", std::uint64_t{0});
    welcome_a = a.connect_with_key(port, key_a);
    a.send_json({{"msg_type", kCreateRoom}});
    room = a.expect(kRoomCreated)["payload"].value("room_id", "");
    b.send_json({{"msg_type", kJoinRoom}, {"payload", {{"room_id", room}}}});
    b.expect(kRoomJoined);
    a.expect(kPeerJoined);
  }
  /// An SDP offer from a reaches b.
  void relay() {
    a.send_json({{"msg_type", kSdp},
                 {"to", user_b},
                 {"payload", {{"room_id", room}, {"sdp", {{"type", "offer"}, {"sdp", "v=0"}}}}}});
    auto got = b.expect(kSdp);
    EXPECT_EQ(got["payload"]["sdp"]["sdp"], "v=0");
  }
  WsClient a;
  WsClient b;
  json welcome_a;
  json welcome_b;
  std::string room;
  std::uint64_t user_b = 0;
};

TEST(Drain, DuringTheDrainReadyzAndNewWebSocketsAre503AndTheRestGoesOn) {
  TempDir dir;
  auto env = base_env(dir);
  env["DRAIN_SECONDS"] = "120";  // ended below by a second SIGTERM
  DaemonProcess d({}, env, dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  auto key_a = register_key(port, "alice");
  auto key_b = register_key(port, "bob");
  RoomPair pair(port, key_a, key_b);
  ASSERT_EQ(http_request(port, "GET", "/readyz").status, 200);

  d.signal(SIGTERM);
  ASSERT_TRUE(await_readyz(port, 503)) << "the drain did not begin";
  auto r = http_request(port, "GET", "/readyz");
  EXPECT_EQ(r.error_code(), "unavailable");
  WsClient late;
  EXPECT_EQ(late.connect(port, "/ws", {{"X-API-Key", key_a}}), 503);
  EXPECT_EQ(late.refusal()["error"]["code"], "unavailable");
  // The open sessions still relay, REST is still served.
  pair.relay();
  EXPECT_EQ(
      http_post_json(port, "/register", {{"Username", "carol"}, {"Password", "password1"}}).status,
      201);
  EXPECT_FALSE(d.wait_exit(0ms)) << "the daemon left during its drain";

  // A second SIGTERM ends the drain at once.
  d.signal(SIGTERM);
  EXPECT_EQ(pair.a.wait_closed(20s), 1001);
  EXPECT_EQ(pair.b.wait_closed(20s), 1001);
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(Drain, AtTheEndOfTheDrainWebSocketsCloseWith1001AndTheProcessExitsZero) {
  TempDir dir;
  auto env = base_env(dir);
  env["DRAIN_SECONDS"] = "1";
  DaemonProcess d({}, env, dir.file("log"));
  auto port = d.wait_listening();
  ASSERT_NE(port, 0);
  RoomPair pair(port, register_key(port, "alice"), register_key(port, "bob"));
  d.signal(SIGTERM);
  EXPECT_EQ(pair.a.wait_closed(20s), 1001);
  EXPECT_EQ(pair.b.wait_closed(20s), 1001);
  EXPECT_EQ(d.wait_exit(), 0);
  auto log = read_file(dir.file("log"));
  ASSERT_NE(log.find("shutting down"), std::string::npos) << log;
  EXPECT_LT(log.find("draining before shutdown"), log.find("shutting down")) << log;
}

// --- LOG_FORMAT=json

TEST(JsonLogs, EveryLineOfASessionIsAJsonObjectWithItsFields) {
  TempDir dir;
  auto env = base_env(dir);
  env["LOG_FORMAT"] = "json";
  env["LOG_LEVEL"] = "debug";
  std::vector<std::string> secrets;
  {
    DaemonProcess d({}, env, dir.file("log"));
    auto port = d.wait_listening();
    ASSERT_NE(port, 0);
    auto key_a = register_key(port, "alice");
    auto key_b = register_key(port, "bob");
    auto wrong = http_post_json(port, "/regenerate",
                                {{"Username", "alice"}, {"Password", "wrong-password-7"}});
    EXPECT_EQ(wrong.status, 401);
    {
      RoomPair pair(port, key_a, key_b);
      pair.relay();
      pair.a.close();
      secrets = {key_a,
                 key_b,
                 "password1",
                 "wrong-password-7",
                 pair.welcome_a["payload"].value("session", "no session id"),
                 pair.welcome_b["payload"].value("session", "no session id")};
    }
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(), 0);
  }
  static const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  auto log = read_file(dir.file("log"));
  ASSERT_FALSE(log.empty());
  ASSERT_EQ(log.back(), '\n');
  std::map<std::string, std::vector<json>> by_message;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    json j;
    ASSERT_NO_THROW(j = json::parse(line)) << line;
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j["time"].is_string() && j["level"].is_string() && j["message"].is_string())
        << line;
    EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), rfc3339)) << line;
    by_message[j["message"]].push_back(j);
  }
  auto lines_of = [&](const std::string& message) {
    EXPECT_FALSE(by_message[message].empty()) << "no line '" << message << "' in\n" << log;
    return by_message[message];
  };
  for (const auto& j : lines_of("user registered")) {
    EXPECT_TRUE(j["user_id"].is_number_unsigned()) << j;
    EXPECT_TRUE(j["username"] == "alice" || j["username"] == "bob") << j;
    EXPECT_EQ(j["level"], "info");
  }
  for (const auto& j : lines_of("failed password")) {
    EXPECT_EQ(j["username"], "alice");
    EXPECT_EQ(j["remote_addr"], "127.0.0.1");
    EXPECT_EQ(j["level"], "warning");
  }
  EXPECT_EQ(lines_of("ws connected").size(), 2u);
  for (const auto& j : lines_of("ws connected")) {
    EXPECT_TRUE(j["user_id"].is_number_unsigned()) << j;
    EXPECT_EQ(j["remote_addr"], "127.0.0.1");
  }
  for (const auto& j : lines_of("room joined")) {
    EXPECT_TRUE(j["user_id"].is_number_unsigned()) << j;
    EXPECT_TRUE(j["room_id"].is_string()) << j;
  }
  EXPECT_FALSE(lines_of("ws disconnected").empty());
  for (const auto& j : lines_of("ws disconnected")) EXPECT_TRUE(j["user_id"].is_number()) << j;
  EXPECT_EQ(lines_of("shutting down").front()["connections"].is_number(), true);
  EXPECT_EQ(lines_of("stopped").size(), 1u);
  for (const auto& secret : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a secret is in the log";
  }
}

// --- systemd notify socket and watchdog

/// A unix datagram socket in `dir`, as systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const TempDir& dir) : path_(dir.file("notify")) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    EXPECT_LT(path_.size(), sizeof addr.sun_path);
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~NotifySocket() { close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  /// The next datagram; nullopt if none within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 20s) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[4096];
    auto n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

  /// Datagrams until one contains `what` (returned last); empty at the timeout.
  std::vector<std::string> until(const std::string& what, std::chrono::milliseconds timeout = 20s) {
    std::vector<std::string> seen;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      auto m = next(left);
      if (!m) return {};
      seen.push_back(*m);
      if (m->find(what) != std::string::npos) return seen;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool has_line(const std::string& datagram, const std::string& line) {
  std::istringstream in(datagram);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

TEST(Systemd, ReadyOnceListeningWatchdogPingsAndStoppingOnSigterm) {
  TempDir dir;
  NotifySocket notify(dir);
  auto env = base_env(dir);
  env["NOTIFY_SOCKET"] = notify.path();
  env["WATCHDOG_USEC"] = "200000";  // a ping every 100 ms
  env["WATCHDOG_PID"] = DaemonProcess::kOwnPid;
  DaemonProcess d({}, env, dir.file("log"));

  auto first = notify.next();
  ASSERT_TRUE(first) << "no READY=1";
  EXPECT_TRUE(has_line(*first, "READY=1")) << *first;
  EXPECT_NE(first->find("STATUS=listening on port "), std::string::npos) << *first;
  // READY=1 comes after the listening line: it is already in the pipe, and the port answers.
  auto port = d.wait_listening(100ms);
  ASSERT_NE(port, 0) << "READY=1 came before the listening line";
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);

  for (int i = 0; i < 3; ++i) {
    auto m = notify.next(5s);
    ASSERT_TRUE(m) << "watchdog ping " << i << " missing";
    EXPECT_EQ(*m, "WATCHDOG=1");
  }
  d.signal(SIGTERM);
  auto rest = notify.until("STOPPING=1");
  ASSERT_FALSE(rest.empty()) << "no STOPPING=1";
  EXPECT_TRUE(has_line(rest.back(), "STOPPING=1")) << rest.back();
  EXPECT_EQ(d.wait_exit(), 0);
}

TEST(Systemd, AWatchdogMeantForAnotherProcessIsNotPinged) {
  TempDir dir;
  NotifySocket notify(dir);
  auto env = base_env(dir);
  env["NOTIFY_SOCKET"] = notify.path();
  env["WATCHDOG_USEC"] = "200000";
  env["WATCHDOG_PID"] = std::to_string(getpid());  // ours, not the daemon's
  DaemonProcess d({}, env, dir.file("log"));
  auto first = notify.next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(has_line(*first, "READY=1")) << *first;
  ASSERT_NE(d.wait_listening(), 0);
  // A watchdog would have pinged right after READY=1, before the shutdown began.
  d.signal(SIGTERM);
  auto rest = notify.until("STOPPING=1");
  ASSERT_FALSE(rest.empty()) << "no STOPPING=1";
  for (const auto& m : rest) EXPECT_FALSE(has_line(m, "WATCHDOG=1")) << m;
  EXPECT_EQ(d.wait_exit(), 0);
}

}  // namespace
}  // namespace switchboard::test
