// Webhooks against real receivers (tests/support/webhook_receiver): every event's body and
// signature, order per room under retries, retry on 503 and on a dropped connection, none on
// 400, TLS with a test CA and with an untrusted certificate, and that a receiver that never
// answers leaves signaling as fast as a good one (a ratio, measured side by side).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "support/connected_user.hpp"
#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/webhook_receiver.hpp"
#include "switchboard/config/settings.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using Request = WebhookReceiver::Request;
using Reply = WebhookReceiver::Reply;
using Action = WebhookReceiver::Action;
using namespace std::chrono_literals;

constexpr const char* kSecret = "test-webhook-secret-0123456789";

std::function<void(Settings&)> webhooks_to(const std::string& url,
                                           std::function<void(Settings&)> more = {}) {
  return [url, more](Settings& s) {
    s.webhook_url = url;
    s.webhook_secret = kSecret;
    s.webhook_backoff_ms = 20;
    s.webhook_timeout = 5;
    if (more) more(s);
  };
}

/// HMAC-SHA256 in hex by OpenSSL: not the daemon's libsodium code.
std::string hmac_hex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &n);
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    static const char* digits = "0123456789abcdef";
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

/// The request is a signed webhook POST, as docs/webhooks.md says; returns its body parsed.
json expect_signed(const Request& r) {
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
            "application/json");
  std::string agent = r.headers.count("user-agent") ? r.headers.at("user-agent") : "";
  EXPECT_EQ(agent.rfind("switchboard-webhooks/", 0), 0u) << agent;
  std::string signature =
      r.headers.count("x-switchboard-signature") ? r.headers.at("x-switchboard-signature") : "";
  std::smatch m;
  EXPECT_TRUE(std::regex_match(signature, m, std::regex("t=([0-9]+),v1=([0-9a-f]{64})")))
      << signature;
  if (m.size() == 3) {
    auto t = std::stoll(m[1]);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    EXPECT_LE(std::llabs(now - t), 60) << signature;
    EXPECT_EQ(m[2].str(), hmac_hex(kSecret, m[1].str() + "." + r.body)) << r.body;
  }
  json body = json::parse(r.body, nullptr, false);
  EXPECT_TRUE(body.is_object()) << r.body;
  if (!body.is_object()) return json::object();
  EXPECT_TRUE(std::regex_match(body.value("id", ""), std::regex("[0-9a-f]{32}"))) << r.body;
  EXPECT_TRUE(std::regex_match(body.value("time", ""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << r.body;
  return body;
}

/// One series' value from the daemon's /metrics, or -1 when it is absent.
double metric(std::uint16_t port, const std::string& series) {
  auto page = http_request(port, "GET", "/metrics").body;
  auto at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + series.size() + 2));
}

/// Waits (bounded) until the series reaches `value`; the last value read.
double wait_metric(std::uint16_t port, const std::string& series, double value) {
  double v = -1;
  for (int i = 0; i < 500; ++i) {
    v = metric(port, series);
    if (v >= value) return v;
    std::this_thread::sleep_for(20ms);  // nothing to wait on but the counter
  }
  return v;
}

std::string events_series(const std::string& event, const std::string& result) {
  return "switchboard_webhook_events_total{event=\"" + event + "\",result=\"" + result + "\"}";
}

std::set<std::string> ids(const std::vector<Request>& requests) {
  std::set<std::string> out;
  for (const auto& r : requests) {
    out.insert(json::parse(r.body, nullptr, false).value("id", std::string()));
  }
  return out;
}

TEST(Webhooks, EveryEventIsSignedWithItsFieldsAndARoomsEventsComeInOrder) {
  WebhookReceiver receiver;
  TestServer server(webhooks_to(receiver.url()));
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  auto room = make_room(*alice, {bob.get()});
  bob->ws.send_json({{"msg_type", 4}, {"payload", {{"room_id", room}}}});
  alice->ws.expect(9);
  alice->ws.close();

  auto requests = receiver.wait_for(7);
  ASSERT_EQ(requests.size(), 7u);
  std::vector<json> registered;
  std::vector<json> of_room;
  for (const auto& r : requests) {
    json body = expect_signed(r);
    (body["event"] == "user_registered" ? registered : of_room).push_back(body);
  }
  EXPECT_EQ(ids(requests).size(), 7u);  // each event has its own id
  ASSERT_EQ(registered.size(), 2u);
  std::map<std::string, std::uint64_t> users;
  for (auto& b : registered) {
    EXPECT_EQ(b.size(), 5u) << b;
    users[b["username"]] = b["user_id"];
  }
  EXPECT_EQ(users,
            (std::map<std::string, std::uint64_t>{{"alice", alice->id()}, {"bob", bob->id()}}));
  auto without_envelope = [](json b) {
    b.erase("id");
    b.erase("time");
    return b;
  };
  std::vector<json> expected = {
      {{"event", "room_created"}, {"room_id", room}, {"host", alice->id()}},
      {{"event", "peer_joined"}, {"room_id", room}, {"user_id", bob->id()}},
      {{"event", "peer_left"}, {"room_id", room}, {"user_id", bob->id()}},
      {{"event", "peer_left"}, {"room_id", room}, {"user_id", alice->id()}},
      {{"event", "room_closed"}, {"room_id", room}, {"reason", "empty"}},
  };
  ASSERT_EQ(of_room.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(without_envelope(of_room[i]), expected[i]) << i;
  }
  EXPECT_EQ(wait_metric(server.port(), events_series("peer_left", "delivered"), 2), 2);
  EXPECT_EQ(metric(server.port(), "switchboard_webhook_queue_depth"), 0);
  // The webhook families are well-formed Prometheus text (promtool, as metrics_test does).
  TempDir dir;
  std::ofstream(dir.file("metrics.txt")) << http_request(server.port(), "GET", "/metrics").body;
  std::string check = "promtool check metrics < '" + dir.file("metrics.txt") + "' > '" +
                      dir.file("promtool.txt") + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_file(dir.file("promtool.txt"));
}

TEST(Webhooks, ARoomClosedByTheAdminApiReportsItsReasonAndNoPeerLeft) {
  const std::string token(40, 'k');
  WebhookReceiver receiver;
  TestServer server(webhooks_to(receiver.url(), [&](Settings& s) { s.admin_token = token; }));
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  auto room = make_room(*alice, {bob.get()});
  auto closed =
      http_request(server.port(), "DELETE", "/admin/rooms/" + room, R"({"reason":"moderated"})",
                   {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  ASSERT_EQ(closed.status, 200) << closed.body;
  alice->ws.expect(13);
  bob->ws.expect(13);

  // 2 user_registered, room_created, peer_joined, room_closed: nothing more for the room.
  auto requests = receiver.wait_for(5);
  ASSERT_EQ(requests.size(), 5u);
  std::vector<std::string> room_events;
  json last;
  for (const auto& r : requests) {
    json body = expect_signed(r);
    if (body.value("room_id", "") != room) continue;
    room_events.push_back(body["event"]);
    last = body;
  }
  EXPECT_EQ(room_events, (std::vector<std::string>{"room_created", "peer_joined", "room_closed"}));
  EXPECT_EQ(last.value("reason", ""), "moderated") << last;
  EXPECT_EQ(wait_metric(server.port(), events_series("room_closed", "delivered"), 1), 1);
  EXPECT_LE(metric(server.port(), events_series("peer_left", "delivered")), 0);
}

TEST(Webhooks, A503IsRetriedWithTheSameEvent) {
  WebhookReceiver receiver([](const Request&, std::size_t i) {
    return Reply{Action::answer, i == 0 ? 503u : 200u};
  });
  TestServer server(webhooks_to(receiver.url()));
  register_user(server.port(), "carol");
  auto requests = receiver.wait_for(2);
  ASSERT_EQ(requests.size(), 2u);
  expect_signed(requests[0]);
  expect_signed(requests[1]);
  EXPECT_EQ(requests[0].body, requests[1].body);  // the same id: a receiver can deduplicate
  EXPECT_EQ(wait_metric(server.port(), events_series("user_registered", "delivered"), 1), 1);
  EXPECT_EQ(
      metric(server.port(), "switchboard_webhook_attempt_failures_total{reason=\"server_error\"}"),
      1);
  // A 503 with keep-alive leaves the connection usable: the retry went over it.
  EXPECT_EQ(requests[1].connection, requests[0].connection);
}

TEST(Webhooks, ADroppedConnectionIsRetriedOnANewOne) {
  WebhookReceiver receiver([](const Request&, std::size_t i) {
    return Reply{i == 0 ? Action::drop : Action::answer, 200};
  });
  TestServer server(webhooks_to(receiver.url()));
  register_user(server.port(), "dave");
  auto requests = receiver.wait_for(2);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, requests[1].body);
  EXPECT_NE(requests[1].connection, requests[0].connection);
  expect_signed(requests[1]);
  EXPECT_EQ(wait_metric(server.port(), events_series("user_registered", "delivered"), 1), 1);
  EXPECT_EQ(metric(server.port(), "switchboard_webhook_attempt_failures_total{reason=\"connect\"}"),
            1);
}

TEST(Webhooks, A400IsNotRetried) {
  WebhookReceiver receiver([](const Request&, std::size_t) { return Reply{Action::answer, 400}; });
  // One connection: the second event goes out only once the first is finished with.
  TestServer server(webhooks_to(receiver.url(), [](Settings& s) { s.webhook_connections = 1; }));
  register_user(server.port(), "erin");
  register_user(server.port(), "frank");
  EXPECT_EQ(wait_metric(server.port(), events_series("user_registered", "rejected"), 2), 2);
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(json::parse(requests[0].body)["username"], "erin");
  EXPECT_EQ(json::parse(requests[1].body)["username"], "frank");
  EXPECT_EQ(ids(requests).size(), 2u);
  EXPECT_EQ(metric(server.port(), events_series("user_registered", "delivered")), 0);
}

TEST(Webhooks, ARoomsEventsStayInOrderThroughRetries) {
  // Every third request fails: retries interleave with other rooms' events on other lanes.
  WebhookReceiver receiver([](const Request&, std::size_t i) {
    return Reply{Action::answer, i % 3 == 1 ? 503u : 200u};
  });
  TestServer server(webhooks_to(receiver.url(), [](Settings& s) { s.webhook_connections = 3; }));
  constexpr int kRooms = 4;
  std::vector<std::unique_ptr<ConnectedUser>> hosts, guests;
  for (int r = 0; r < kRooms; ++r) {
    hosts.push_back(connect_user(server.port(), "host" + std::to_string(r)));
    guests.push_back(connect_user(server.port(), "guest" + std::to_string(r)));
  }
  std::vector<std::string> rooms;
  for (int r = 0; r < kRooms; ++r) rooms.push_back(make_room(*hosts[r], {guests[r].get()}));
  for (int r = 0; r < kRooms; ++r) {
    guests[r]->ws.send_json({{"msg_type", 4}, {"payload", {{"room_id", rooms[r]}}}});
    hosts[r]->ws.expect(9);
  }
  for (int r = 0; r < kRooms; ++r) {
    hosts[r]->ws.send_json({{"msg_type", 4}, {"payload", {{"room_id", rooms[r]}}}});
  }
  const std::size_t events = 2 * kRooms + 5 * kRooms;
  auto requests = receiver.wait_until([&](const auto& got) { return ids(got).size() >= events; });
  ASSERT_EQ(ids(requests).size(), events);
  EXPECT_GT(requests.size(), events);  // some were retried
  for (int r = 0; r < kRooms; ++r) {
    // The room's requests in arrival order: an id, its retries, then the next id, never back.
    std::vector<std::string> order;
    std::vector<std::string> names;
    for (const auto& req : requests) {
      json b = json::parse(req.body);
      if (b.value("room_id", "") != rooms[r]) continue;
      std::string id = b["id"];
      if (!order.empty() && order.back() == id) continue;
      EXPECT_EQ(std::count(order.begin(), order.end(), id), 0) << "room " << r << " went back";
      order.push_back(id);
      names.push_back(b["event"]);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"room_created", "peer_joined", "peer_left",
                                               "peer_left", "room_closed"}))
        << "room " << r;
  }
}

TEST(Webhooks, HttpsReceiverIsVerifiedAgainstTheGivenCa) {
  TempDir dir;
  auto pki = make_test_pki(dir, "good");
  ASSERT_FALSE(pki.ca_file.empty()) << "openssl failed";
  WebhookReceiver receiver({}, &pki);
  TestServer server(
      webhooks_to(receiver.url(), [&](Settings& s) { s.webhook_ca_file = pki.ca_file; }));
  register_user(server.port(), "grace");
  auto requests = receiver.wait_for(1);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(expect_signed(requests[0])["username"], "grace");
}

TEST(Webhooks, HttpsReceiverWithAnUntrustedCertificateGetsNothing) {
  TempDir dir;
  auto receivers_pki = make_test_pki(dir, "receiver");
  auto other_pki = make_test_pki(dir, "other");
  ASSERT_FALSE(receivers_pki.ca_file.empty() || other_pki.ca_file.empty()) << "openssl failed";
  WebhookReceiver receiver({}, &receivers_pki);
  TestServer server(webhooks_to(receiver.url(), [&](Settings& s) {
    s.webhook_ca_file = other_pki.ca_file;
    s.webhook_max_attempts = 2;
  }));
  register_user(server.port(), "heidi");
  EXPECT_EQ(wait_metric(server.port(), events_series("user_registered", "gave_up"), 1), 1);
  EXPECT_EQ(metric(server.port(), "switchboard_webhook_attempt_failures_total{reason=\"tls\"}"), 2);
  EXPECT_TRUE(receiver.requests().empty());
  EXPECT_GE(receiver.connections(), 2u);  // it was reached, and refused
}

/// p50 of `samples`, in microseconds.
double median_us(std::vector<std::chrono::nanoseconds> samples) {
  std::sort(samples.begin(), samples.end());
  return std::chrono::duration<double, std::micro>(samples[samples.size() / 2]).count();
}

TEST(Webhooks, AReceiverThatNeverAnswersDoesNotSlowSignaling) {
  WebhookReceiver good;
  WebhookReceiver silent([](const Request&, std::size_t) { return Reply{Action::never_answer}; });
  // The silent receiver's daemon gets a small queue, so that it overflows too, and waits
  // webhook_timeout (1 s) for it at shutdown; the good one's holds every event of the test.
  TestServer a(webhooks_to(good.url()));
  TestServer b(webhooks_to(silent.url(), [](Settings& s) {
    s.webhook_queue_size = 64;
    s.webhook_timeout = 1;
  }));
  struct Side {
    TestServer& server;
    std::unique_ptr<ConnectedUser> host, guest;
    std::string room;
    std::vector<std::chrono::nanoseconds> relay, create;
  };
  Side sides[] = {{a, nullptr, nullptr, "", {}, {}}, {b, nullptr, nullptr, "", {}, {}}};
  for (auto& s : sides) {
    s.host = connect_user(s.server.port(), "host");
    s.guest = connect_user(s.server.port(), "guest");
    s.room = make_room(*s.host, {s.guest.get()});
  }
  using Clock = std::chrono::steady_clock;
  json sdp = {{"type", "offer"}, {"sdp", "v=0"}};
  // The two daemons take turns, round by round, so that the machine's noise hits both.
  constexpr int kRounds = 120;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& s : sides) {
      // Room churn: three webhook events each (room_created, peer_left, room_closed).
      auto t0 = Clock::now();
      s.host->ws.send_json({{"msg_type", 0}});
      std::string churn = s.host->ws.expect(5)["payload"]["room_id"];
      s.create.push_back(Clock::now() - t0);
      s.host->ws.send_json({{"msg_type", 4}, {"payload", {{"room_id", churn}}}});
      // A relay there and back.
      auto t1 = Clock::now();
      s.host->ws.send_json({{"msg_type", 2},
                            {"to", s.guest->id()},
                            {"payload", {{"room_id", s.room}, {"sdp", sdp}}}});
      s.guest->ws.expect(2);
      s.guest->ws.send_json({{"msg_type", 2},
                             {"to", s.host->id()},
                             {"payload", {{"room_id", s.room}, {"sdp", sdp}}}});
      s.host->ws.expect(2);
      s.relay.push_back(Clock::now() - t1);
    }
  }
  double relay_ratio = median_us(sides[1].relay) / median_us(sides[0].relay);
  double create_ratio = median_us(sides[1].create) / median_us(sides[0].create);
  std::printf("relay p50 %.0f us (good) vs %.0f us (silent): ratio %.2f\n",
              median_us(sides[0].relay), median_us(sides[1].relay), relay_ratio);
  std::printf("CreateRoom p50 %.0f us (good) vs %.0f us (silent): ratio %.2f\n",
              median_us(sides[0].create), median_us(sides[1].create), create_ratio);
  EXPECT_LT(relay_ratio, 3.0);
  EXPECT_LT(create_ratio, 3.0);
  // The silent receiver really held its daemon's webhooks up, and the good one did not.
  EXPECT_GT(metric(b.port(), events_series("room_created", "dropped_overflow")), 0);
  EXPECT_EQ(metric(b.port(), events_series("room_created", "delivered")), 0);
  EXPECT_EQ(wait_metric(a.port(), events_series("room_created", "delivered"), kRounds + 1),
            kRounds + 1);
  EXPECT_EQ(metric(a.port(), events_series("room_created", "dropped_overflow")), 0);
}

TEST(WebhookProcess, AUrlWithoutASecretRefusesToStartInOneLine) {
  TempDir dir;
  auto env = daemon_test_env(dir.file("sb.db"));
  env["WEBHOOK_URL"] = "http://127.0.0.1:9/hook";
  DaemonProcess d({}, env, dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 2);
  auto log = read_file(dir.file("log"));
  EXPECT_NE(log.find("webhook_secret"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST(WebhookProcess, AnUnreadableCaFileRefusesToStart) {
  TempDir dir;
  auto env = daemon_test_env(dir.file("sb.db"));
  env["WEBHOOK_URL"] = "https://127.0.0.1:9/hook";
  env["WEBHOOK_SECRET"] = kSecret;
  env["WEBHOOK_CA_FILE"] = dir.file("missing.pem");
  DaemonProcess d({}, env, dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 1);
  auto log = read_file(dir.file("log"));
  EXPECT_NE(log.find("webhook_ca_file"), std::string::npos) << log;
  EXPECT_EQ(log.find(kSecret), std::string::npos) << log;
}

}  // namespace
}  // namespace switchboard::test
