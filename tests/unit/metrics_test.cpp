#include "switchboard/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "switchboard/util/host_port.hpp"

namespace switchboard {
namespace {

using namespace metric_labels;

TEST(MetricLabels, RoutesAreFixedNamesNeverRawPaths) {
  EXPECT_EQ(route_for(api_route("/register"), 201), Route::register_);
  EXPECT_EQ(route_for(api_route("/ws"), 101), Route::ws);
  EXPECT_EQ(route_for(api_route("/admin/rooms/abc"), 404), Route::admin);
  EXPECT_EQ(route_for(api_route("/index.html"), 200), Route::static_file);
  EXPECT_EQ(route_for(api_route("/index.html"), 304), Route::static_file);
  EXPECT_EQ(route_for(api_route("/no/such/thing"), 404), Route::other);
  EXPECT_EQ(route_for(std::nullopt, 400), Route::other);
  EXPECT_STREQ(name(Route::ws_ticket), "ws-ticket");
}

TEST(MetricLabels, UnknownCodesAndStatusesFallIntoOther) {
  EXPECT_EQ(close_slot(1001), 1u);
  EXPECT_EQ(close_slot(4999), kCloseCodes.size());
  EXPECT_EQ(status_slot(200), 1u);
  EXPECT_EQ(status_slot(418), kStatuses.size());
  EXPECT_EQ(client_type(2), ClientType::sdp);
  EXPECT_EQ(client_type(7), ClientType::other);  // a server type from a client
  EXPECT_EQ(client_type(std::nullopt), ClientType::other);
  EXPECT_EQ(client_type(-5), ClientType::other);
}

TEST(Metrics, ShardsOfEveryThreadAreSummed) {
  Metrics m;
  m.local().count_relay(MsgType::sdp);
  std::thread([&] {
    for (int i = 0; i < 3; ++i) m.local().count_relay(MsgType::sdp);
    m.local().count_error(SignalError::room_full);
  }).join();
  auto text = m.render({});
  EXPECT_NE(text.find("switchboard_relays_total{type=\"SDP\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("switchboard_errors_total{code=\"room_full\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("switchboard_errors_total{code=\"bad_json\"} 0\n"), std::string::npos);
}

TEST(Metrics, AThreadCountingForTwoInTurnKeepsOneShardEach) {
  Metrics a;
  Metrics b;
  for (int i = 0; i < 5; ++i) {
    a.local().connections_accepted.add();
    b.local().connections_accepted.add(2);
  }
  EXPECT_NE(a.render({}).find("switchboard_connections_accepted_total 5\n"), std::string::npos);
  EXPECT_NE(b.render({}).find("switchboard_connections_accepted_total 10\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  using namespace std::chrono_literals;
  m.local().count_http(Route::healthz, 200, 300us);  // <= 0.0005
  m.local().count_http(Route::healthz, 200, 3ms);    // <= 0.005
  m.local().count_http(Route::healthz, 503, 10s);    // above every bound
  auto text = m.render({});
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(
      has(R"(switchboard_http_request_duration_seconds_bucket{route="healthz",le="0.0005"} 1)"))
      << text;
  EXPECT_TRUE(
      has(R"(switchboard_http_request_duration_seconds_bucket{route="healthz",le="0.005"} 2)"));
  EXPECT_TRUE(has(R"(switchboard_http_request_duration_seconds_bucket{route="healthz",le="5"} 2)"));
  EXPECT_TRUE(
      has(R"(switchboard_http_request_duration_seconds_bucket{route="healthz",le="+Inf"} 3)"));
  EXPECT_TRUE(has(R"(switchboard_http_request_duration_seconds_count{route="healthz"} 3)"));
  EXPECT_TRUE(has(R"(switchboard_http_requests_total{route="healthz",status="200"} 2)"));
  EXPECT_TRUE(has(R"(switchboard_http_requests_total{route="healthz",status="503"} 1)"));
}

TEST(Metrics, ProcessFiguresAreRead) {
  Metrics m;
  auto text = m.render({});
  for (const char* family :
       {"switchboard_process_cpu_seconds_total ", "switchboard_process_resident_memory_bytes ",
        "switchboard_process_open_fds ", "switchboard_process_max_fds ",
        "switchboard_process_start_time_seconds "}) {
    EXPECT_NE(text.find(std::string("\n") + family), std::string::npos) << family;
  }
}

TEST(HostPort, ParsesIpLiteralsWithPorts) {
  auto v4 = parse_host_port("127.0.0.1:9100");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9100);
  auto v6 = parse_host_port("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_FALSE(parse_host_port("example.org:80"));
  EXPECT_FALSE(parse_host_port("[::1]:65536"));
}

}  // namespace
}  // namespace switchboard
