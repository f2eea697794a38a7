// GET /metrics (protocol.md section 5): real HTTP scrapes of the in-process daemon, the text
// checked by promtool, and the counters checked against a scripted session, delta by delta.
// Then METRICS_ADDR: a listener of its own, and nothing on the main port.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "support/connected_user.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"
#include "switchboard/version.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using Series = std::map<std::string, double>;

/// Every sample of an exposition, by its series ("name{labels}").
Series parse_samples(const std::string& text) {
  Series out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::string scrape_text(std::uint16_t port) {
  auto r = http_request(port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return r.body;
}

/// What `promtool check metrics` says of `text`, and whether it passed. promtool is part of
/// the test toolchain (scripts/install-deps.sh --test): missing, the check fails.
std::pair<bool, std::string> promtool_check(const std::string& text) {
  TempDir dir;
  std::string in = dir.file("scrape.txt");
  std::string out = dir.file("promtool.txt");
  std::ofstream(in) << text;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    return {false, "promtool is not installed (scripts/install-deps.sh --test)"};
  }
  int status = std::system(("promtool check metrics < " + in + " > " + out + " 2>&1").c_str());
  std::ifstream said(out);
  std::string words((std::istreambuf_iterator<char>(said)), std::istreambuf_iterator<char>());
  return {status == 0, words};
}

double at(const Series& s, const std::string& series) {
  auto it = s.find(series);
  EXPECT_NE(it, s.end()) << "no series " << series;
  return it == s.end() ? -1 : it->second;
}
/// A counter's value, 0 when the series is absent (http_requests_total lists only what occurred).
double count_of(const Series& s, const std::string& series) {
  auto it = s.find(series);
  return it == s.end() ? 0 : it->second;
}

std::string dump_family(const Series& s, const std::string& family) {
  std::string out;
  for (const auto& [series, value] : s) {
    if (series.rfind(family, 0) == 0) out += series + " " + std::to_string(value) + "\n";
  }
  return out;
}

json msg(int type, json payload) {
  return {{"msg_type", type}, {"payload", std::move(payload)}};
}

TEST(Metrics, ScriptedSessionMovesEachCounterByWhatItDid) {
  TestServer server;
  const auto port = server.port();
  Series before = parse_samples(scrape_text(port));

  // One registration each for two users, and their WebSockets.
  auto alice = connect_user(port, "alice");
  auto bob = connect_user(port, "bob");
  std::string room = make_room(*alice, {bob.get()});

  // N relays: 6 SDP and 4 ICE from alice to bob, each one received.
  constexpr int kSdp = 6;
  constexpr int kIce = 4;
  for (int i = 0; i < kSdp + kIce; ++i) {
    json m = {{"msg_type", i < kSdp ? 2 : 3},
              {"to", bob->id()},
              {"payload",
               {{"room_id", room},
                {"sdp", {{"type", "offer"}, {"sdp", "v=0\r\n"}}},
                {"candidate", {{"candidate", "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}}}}};
    alice->ws.send_json(m);
    EXPECT_EQ(bob->ws.expect(i < kSdp ? 2 : 3)["from"], alice->id());
  }

  // One Error of each kind the script causes; the Error names the offending msg_type, which
  // is the type the message is counted under (null: "other").
  std::map<std::string, int> typed;  // client_messages_total's type label -> messages
  std::map<std::string, int> errors;
  auto cause = [&](ConnectedUser& who, const std::string& text, const std::string& code) {
    who.ws.send(text);
    auto e = who.ws.expect(7);
    EXPECT_EQ(e["payload"]["code"], code) << text;
    errors[code] += 1;
    static const char* names[] = {"CreateRoom", "JoinRoom", "SDP", "ICECandidate", "LeaveRoom"};
    auto t = e["payload"]["msg_type"];
    std::string label = "other";
    if (t.is_number_integer() && t.get<int>() >= 0 && t.get<int>() <= 4) {
      label = names[t.get<int>()];
    } else if (t.is_number_integer() && t.get<int>() == 10) {
      label = "Ready";
    }
    typed[label] += 1;
  };
  cause(*alice, "not json", "bad_json");
  cause(*alice, R"({"msg_type":"two"})", "bad_envelope");
  cause(*alice, R"({"msg_type":99})", "unknown_type");
  cause(*alice, msg(0, {{"max_members", 0}}).dump(), "bad_payload");
  json spoof = {{"msg_type", 2},
                {"from", bob->id()},
                {"to", bob->id()},
                {"payload", {{"room_id", room}, {"sdp", {{"type", "offer"}, {"sdp", "v=0"}}}}}};
  cause(*alice, spoof.dump(), "forbidden");
  cause(*alice, msg(1, {{"room_id", std::string(22, 'x')}}).dump(), "room_not_found");
  cause(*bob, msg(1, {{"room_id", room}}).dump(), "already_in_room");

  // Gauges while both are in the room.
  Series during = parse_samples(scrape_text(port));
  EXPECT_EQ(at(during, "switchboard_rooms") - at(before, "switchboard_rooms"), 1);
  EXPECT_EQ(at(during, "switchboard_room_members") - at(before, "switchboard_room_members"), 2);
  EXPECT_EQ(at(during, "switchboard_websocket_connections"), 2);
  EXPECT_EQ(at(during, "switchboard_sessions"), 2);
  // The two WebSockets and the scrape's own connection.
  EXPECT_GE(at(during, "switchboard_open_connections"), 3);

  // One close code: bob says goodbye with 1000; alice sees him leave.
  bob->ws.close(1000);
  EXPECT_EQ(alice->ws.expect(9)["payload"]["user_id"], bob->id());

  // The last counts land just after the answers the clients waited for (the close, the last
  // Error's own message): scrape until the close is counted, bounded.
  Series after;
  for (int i = 0; i < 500; ++i) {
    after = parse_samples(scrape_text(port));
    if (count_of(after, R"(switchboard_websocket_closes_total{code="1000"})") >= 1 &&
        count_of(after, R"(switchboard_errors_total{code="already_in_room"})") >= 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto delta = [&](const std::string& series) {
    return count_of(after, series) - count_of(before, series);
  };

  EXPECT_EQ(delta(R"(switchboard_http_requests_total{route="register",status="201"})"), 2);
  EXPECT_EQ(delta(R"(switchboard_http_request_duration_seconds_count{route="register"})"), 2);
  EXPECT_EQ(delta(R"(switchboard_http_requests_total{route="ws",status="101"})"), 2);
  EXPECT_EQ(delta(R"(switchboard_password_hash_seconds_count{op="hash"})"), 2);
  EXPECT_EQ(delta(R"(switchboard_password_hash_seconds_count{op="verify"})"), 0);
  EXPECT_EQ(delta(R"(switchboard_relays_total{type="SDP"})"), kSdp);
  EXPECT_EQ(delta(R"(switchboard_relays_total{type="ICECandidate"})"), kIce);
  EXPECT_EQ(delta(R"(switchboard_client_messages_total{type="SDP"})"), kSdp + typed["SDP"]);
  EXPECT_EQ(delta(R"(switchboard_client_messages_total{type="ICECandidate"})"), kIce);
  EXPECT_EQ(delta(R"(switchboard_client_messages_total{type="CreateRoom"})"),
            1 + typed["CreateRoom"]);
  EXPECT_EQ(delta(R"(switchboard_client_messages_total{type="JoinRoom"})"), 1 + typed["JoinRoom"]);
  EXPECT_EQ(delta(R"(switchboard_client_messages_total{type="other"})"), typed["other"]);
  EXPECT_EQ(typed["other"], 3);  // not JSON, not an envelope, not a type
  for (const char* code : {"bad_json", "bad_envelope", "bad_payload", "unknown_type", "forbidden",
                           "room_not_found", "room_full", "already_in_room", "not_in_room",
                           "peer_not_in_room", "too_many_rooms", "rate_limited"}) {
    EXPECT_EQ(delta(std::string(R"(switchboard_errors_total{code=")") + code + "\"}"), errors[code])
        << code << "\n"
        << dump_family(after, "switchboard_errors_total");
  }
  EXPECT_EQ(delta(R"(switchboard_websocket_closes_total{code="1000"})"), 1);
  for (const char* code : {"1001", "1006", "1008", "4002", "other"}) {
    EXPECT_EQ(delta(std::string(R"(switchboard_websocket_closes_total{code=")") + code + "\"}"), 0)
        << code;
  }
  EXPECT_EQ(at(after, "switchboard_room_members"), 1);
  EXPECT_EQ(at(after, "switchboard_worker_queue_depth"), 0);
  EXPECT_GE(delta("switchboard_connections_accepted_total"), 4);
  EXPECT_EQ(delta("switchboard_connections_refused_total"), 0);
  EXPECT_EQ(at(after, std::string(R"(switchboard_build_info{version=")") + kVersion + "\"}"), 1);
  EXPECT_GT(at(after, "switchboard_process_resident_memory_bytes"), 0);
  EXPECT_GT(at(after, "switchboard_process_open_fds"), 0);

  // A route answered with something else shows up under its fixed name; unknown paths under
  // "other", never as themselves.
  EXPECT_EQ(http_request(port, "POST", "/metrics").status, 405);
  EXPECT_EQ(http_request(port, "GET", "/no/such/path").status, 404);
  auto text = scrape_text(port);
  Series last = parse_samples(text);
  EXPECT_EQ(count_of(last, R"(switchboard_http_requests_total{route="metrics",status="405"})"), 1);
  EXPECT_GE(count_of(last, R"(switchboard_http_requests_total{route="other",status="404"})"), 1);
  EXPECT_EQ(text.find("/no/such/path"), std::string::npos);

  auto [ok, said] = promtool_check(text);
  EXPECT_TRUE(ok) << said << "\n" << text;
}

TEST(Metrics, RateLimitedMessagesAndLostConnectionsAreCounted) {
  TestServer server([](Settings& s) {
    s.rate_limit_burst = 1;
    s.rate_limit_per_sec = 0.001;
  });
  const auto port = server.port();
  auto alice = connect_user(port, "alice");
  alice->ws.send_json(msg(0, json::object()));
  alice->ws.expect(5);
  alice->ws.send_json(msg(0, json::object()));
  EXPECT_EQ(alice->ws.expect(7)["payload"]["code"], "rate_limited");
  Series s;
  for (int i = 0; i < 500; ++i) {
    s = parse_samples(scrape_text(port));
    if (count_of(s, R"(switchboard_errors_total{code="rate_limited"})") >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(count_of(s, R"(switchboard_errors_total{code="rate_limited"})"), 1);
  // A rate-limited message never reaches the hub: one CreateRoom handled.
  EXPECT_EQ(count_of(s, R"(switchboard_client_messages_total{type="CreateRoom"})"), 1);
}

TEST(Metrics, MetricsAddrServesThereAndNotOnTheMainPort) {
  TestServer server([](Settings& s) { s.metrics_addr = "127.0.0.1:0"; });
  ASSERT_NE(server.metrics_port(), 0);
  ASSERT_NE(server.metrics_port(), server.port());
  auto text = scrape_text(server.metrics_port());
  EXPECT_NE(text.find("\nswitchboard_open_connections "), std::string::npos) << text;
  auto [ok, said] = promtool_check(text);
  EXPECT_TRUE(ok) << said;

  auto main = http_request(server.port(), "GET", "/metrics");
  EXPECT_EQ(main.status, 404);
  EXPECT_EQ(main.error_code(), "not_found");
  // The main port's own routes are not served on the metrics listener.
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200);
  auto elsewhere = http_request(server.metrics_port(), "GET", "/healthz");
  EXPECT_EQ(elsewhere.status, 404);
  EXPECT_EQ(elsewhere.error_code(), "not_found");
}

TEST(Metrics, MetricsListenerAnswersOddRequestsWithCleanErrors) {
  TestServer server([](Settings& s) { s.metrics_addr = "127.0.0.1:0"; });
  const auto port = server.metrics_port();
  ASSERT_NE(port, 0);

  auto post = http_request(port, "POST", "/metrics", "{}", {{"Content-Type", "application/json"}});
  // A body is more than this listener takes: refused before the method is looked at.
  EXPECT_EQ(post.status, 413);
  auto del = http_request(port, "DELETE", "/metrics");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.header("allow"), "GET, HEAD");
  EXPECT_EQ(del.error_code(), "method_not_allowed");
  EXPECT_EQ(http_request(port, "GET", "/metrics/../admin").status, 404);
  EXPECT_EQ(http_request(port, "GET", "/").status, 404);
  EXPECT_EQ(http_request(port, "GET", "/metrics?name=x").status, 200);

  auto head = raw_exchange(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_EQ(head.find("switchboard_"), std::string::npos) << "HEAD answered with a body";

  auto garbage = raw_exchange(port, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;

  std::string huge =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(16384, 'a') + "\r\n\r\n";
  auto too_big = raw_exchange(port, huge);
  EXPECT_EQ(too_big.rfind("HTTP/1.1 431", 0), 0u) << too_big.substr(0, 200);

  // Kept alive: two requests on one connection, both answered.
  auto two = raw_exchange(port,
                          "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(two.find("HTTP/1.1 404"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::test
