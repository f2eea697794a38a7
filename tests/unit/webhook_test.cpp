// The webhook path's pure parts: URL, body, signature, queue, and reading a receiver's answer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "switchboard/ops/webhook_event.hpp"
#include "switchboard/ops/webhook_queue.hpp"
#include "switchboard/ops/webhook_response.hpp"
#include "switchboard/ops/webhook_url.hpp"

namespace switchboard {
namespace {

using json = nlohmann::json;

TEST(WebhookUrl, TakesHttpAndHttpsApart) {
  auto a = parse_webhook_url("https://hooks.example.com/switchboard?x=1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "hooks.example.com");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->target, "/switchboard?x=1");
  EXPECT_EQ(a->host_header, "hooks.example.com");

  auto b = parse_webhook_url("http://127.0.0.1:9000");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->host, "127.0.0.1");
  EXPECT_EQ(b->port, 9000);
  EXPECT_EQ(b->target, "/");
  EXPECT_EQ(b->host_header, "127.0.0.1:9000");

  auto c = parse_webhook_url("http://[::1]:8081/h");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 8081);
  EXPECT_EQ(c->host_header, "[::1]:8081");
  EXPECT_EQ(parse_webhook_url("http://example.com?q")->target, "/?q");
}

TEST(WebhookUrl, RefusesWhatIsNotHttpHostPortPath) {
  for (const char* bad :
       {"", "example.com/hook", "ftp://example.com/", "HTTP//x", "http://", "http:///path",
        "http://user:pass@example.com/", "http://example.com:/", "http://example.com:0/",
        "http://example.com:65536/", "http://example.com:80x/", "http://exa mple.com/",
        "http://example.com/a b", "http://example.com/#frag", "http://[::1/", "http://[nope]:80/",
        "http://[::1]x/", "http://ex_ample.com/", "http://example.com/\x7f"}) {
    EXPECT_FALSE(parse_webhook_url(bad)) << bad;
  }
}

TEST(WebhookEvent, SignatureIsHmacSha256OfTimeDotBody) {
  // Expected value from Python's hmac module, not from the code under test.
  EXPECT_EQ(webhook_signature("0123456789abcdef-secret", 1700000000, R"({"id":"x"})"),
            "t=1700000000,v1=e83bb0935e7b1db314f673eb7e104265702860cb3dd80ea6e7a2f7cdc1cacd56");
}

TEST(WebhookEvent, TimeIsRfc3339UtcWithMilliseconds) {
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1764842700123)};
  EXPECT_EQ(rfc3339_millis(t), "2025-12-04T10:05:00.123Z");
  EXPECT_EQ(rfc3339_millis(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(WebhookEvent, IdsAre128RandomBitsInHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_webhook_event_id();
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(WebhookEvent, EachEventHasItsFields) {
  auto t = std::chrono::system_clock::time_point{std::chrono::milliseconds(1000)};
  struct Case {
    WebhookEvent event;
    json fields;
  };
  const Case cases[] = {
      {{WebhookEventType::user_registered, t, "", 7, "alice"},
       {{"user_id", 7}, {"username", "alice"}}},
      {{WebhookEventType::room_created, t, "r1", 7, ""}, {{"room_id", "r1"}, {"host", 7}}},
      {{WebhookEventType::room_closed, t, "r1", 0, "empty"},
       {{"room_id", "r1"}, {"reason", "empty"}}},
      {{WebhookEventType::peer_joined, t, "r1", 8, ""}, {{"room_id", "r1"}, {"user_id", 8}}},
      {{WebhookEventType::peer_left, t, "r1", 8, ""}, {{"room_id", "r1"}, {"user_id", 8}}},
  };
  for (const auto& c : cases) {
    auto body = json::parse(webhook_body(c.event, "abc"));
    json expected = c.fields;
    expected["id"] = "abc";
    expected["event"] = to_string(c.event.type);
    expected["time"] = "1970-01-01T00:00:01.000Z";
    EXPECT_EQ(body, expected);
  }
  // The envelope comes first, for a reader of raw bodies.
  EXPECT_EQ(webhook_body(cases[1].event, "abc").rfind(R"({"id":"abc","event":"room_created")", 0),
            0u);
  // A reason that is not UTF-8 cannot make the body invalid JSON.
  WebhookEvent odd{WebhookEventType::room_closed, t, "r", 0, "bad \xff byte"};
  EXPECT_TRUE(json::accept(webhook_body(odd, "x")));
}

WebhookEvent room_event(const std::string& room, std::uint64_t user) {
  return {WebhookEventType::peer_joined, std::chrono::system_clock::now(), room, user, ""};
}

TEST(WebhookQueue, KeepsARoomsEventsInOrderOnOneLane) {
  WebhookQueue q(4, 100);
  auto lane = q.lane_of("room-a");
  for (std::uint64_t u = 1; u <= 5; ++u) EXPECT_TRUE(q.push(room_event("room-a", u)).accepted);
  for (std::uint64_t u = 1; u <= 5; ++u) {
    auto e = q.pop(lane);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->user, u);
  }
  EXPECT_FALSE(q.pop(lane));
}

TEST(WebhookQueue, WakesAnIdleLaneOnceAndDropsPastItsCapacity) {
  WebhookQueue q(2, 3);
  auto lane = q.lane_of("r");
  auto first = q.push(room_event("r", 1));
  EXPECT_TRUE(first.accepted && first.wake);
  auto second = q.push(room_event("r", 2));
  EXPECT_TRUE(second.accepted);
  EXPECT_FALSE(second.wake);  // the lane is busy already
  EXPECT_TRUE(q.push(room_event("r", 3)).accepted);
  EXPECT_FALSE(q.push(room_event("r", 4)).accepted);  // full
  EXPECT_EQ(q.depth(), 3u);
  EXPECT_FALSE(q.wait_idle(std::chrono::steady_clock::now()));
  while (q.pop(lane)) {
  }
  EXPECT_TRUE(q.wait_idle(std::chrono::steady_clock::now()));
  EXPECT_TRUE(q.push(room_event("r", 5)).wake);  // idle again
}

WebhookVerdict feed_all(std::string_view bytes, std::size_t chunk = 1 << 20) {
  WebhookResponseReader r;
  for (std::size_t i = 0; i < bytes.size(); i += chunk) {
    if (auto v = r.feed(bytes.substr(i, chunk))) return *v;
  }
  return r.end_of_stream();
}

TEST(WebhookResponse, StatusDecidesAndKeepAliveNeedsAWholeResponse) {
  std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, ok.size()}) {
    auto v = feed_all(ok, chunk);
    EXPECT_EQ(v.reply, WebhookReply::delivered);
    EXPECT_EQ(v.status, 200u);
    EXPECT_TRUE(v.reusable);
  }
  auto unavailable = feed_all("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(unavailable.reply, WebhookReply::server_error);
  EXPECT_EQ(feed_all("HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n").reply,
            WebhookReply::rejected);
  EXPECT_EQ(feed_all("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n").reply,
            WebhookReply::rejected);
  auto closing = feed_all("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(closing.reply, WebhookReply::delivered);
  EXPECT_FALSE(closing.reusable);
  // A body that runs to the end of the connection.
  auto to_eof = feed_all("HTTP/1.1 200 OK\r\n\r\nwhatever");
  EXPECT_EQ(to_eof.reply, WebhookReply::delivered);
  EXPECT_FALSE(to_eof.reusable);
}

TEST(WebhookResponse, ChunkedBodiesAreReadWhateverTheReadSizes) {
  // A byte at a time is what tripped Boost 1.81's last-chunk assertion (in the ASan and TSan
  // builds, which keep assertions on): "0\r\n" followed by one more byte.
  for (std::string body : {"0\r\n\r\n", "2\r\n{}\r\n0\r\n\r\n", "0\r\nX-Trailer: y\r\n\r\n"}) {
    std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
    for (std::size_t chunk = 1; chunk <= 6; ++chunk) {
      auto v = feed_all(response, chunk);
      EXPECT_EQ(v.reply, WebhookReply::delivered) << body << " in reads of " << chunk;
      EXPECT_TRUE(v.reusable) << body << " in reads of " << chunk;
    }
  }
  // A last chunk and one byte more, then the end: the status stands, the body was cut short.
  auto cut = feed_all("HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX", 1);
  EXPECT_EQ(cut.reply, WebhookReply::server_error);
  EXPECT_FALSE(cut.reusable);
}

TEST(WebhookResponse, InterimResponsesAreSkipped) {
  auto v =
      feed_all("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 5);
  EXPECT_EQ(v.reply, WebhookReply::delivered);
  EXPECT_EQ(v.status, 201u);
  EXPECT_EQ(feed_all("HTTP/1.1 100 Continue\r\n\r\n").reply, WebhookReply::bad_response);
}

TEST(WebhookResponse, JunkAndEndlessAnswersAreBounded) {
  EXPECT_EQ(feed_all("SSH-2.0-OpenSSH_9.2\r\n").reply, WebhookReply::bad_response);
  // Well framed but no status (the fuzzer's find): junk, and the connection is not reused.
  auto zero = feed_all("HTTP/1.1 000 OK\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(zero.reply, WebhookReply::bad_response);
  EXPECT_FALSE(zero.reusable);
  EXPECT_EQ(feed_all("").reply, WebhookReply::bad_response);
  EXPECT_EQ(feed_all("HTTP/1.1 200 OK\r\nContent-Le").reply, WebhookReply::bad_response);
  // A header that never ends is refused at the header limit, not buffered.
  std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(1 << 20, 'a');
  EXPECT_EQ(feed_all(endless, 4096).reply, WebhookReply::bad_response);
  // A huge body: the status stands, the connection is not reused.
  std::string huge = "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" +
                     std::string(WebhookResponseReader::kMaxBytes * 2, 'x');
  auto v = feed_all(huge, 4096);
  EXPECT_EQ(v.reply, WebhookReply::delivered);
  EXPECT_FALSE(v.reusable);
  // Bytes after a complete response: not a connection to reuse.
  auto extra = feed_all("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n");
  EXPECT_EQ(extra.reply, WebhookReply::delivered);
  EXPECT_FALSE(extra.reusable);
}

}  // namespace
}  // namespace switchboard
