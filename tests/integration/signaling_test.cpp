// Signaling over /ws (protocol.md section 2 and the /ws rows of section 1), with several real
// WebSocket clients against the in-process daemon.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <thread>

#include "support/connected_user.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"
#include "switchboard/auth/turn_credentials.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;

enum Type {
  kCreateRoom = 0,
  kJoinRoom = 1,
  kSdp = 2,
  kIce = 3,
  kLeaveRoom = 4,
  kRoomCreated = 5,
  kRoomJoined = 6,
  kError = 7,
  kPeerJoined = 8,
  kPeerLeft = 9,
  kReady = 10,
  kPeerReady = 11,
  kWelcome = 12,
};

using Client = ConnectedUser;

json message(int type, json payload) {
  return {{"msg_type", type}, {"payload", std::move(payload)}};
}

json sdp_to(std::uint64_t to, const std::string& room, const std::string& kind = "offer") {
  return {{"msg_type", kSdp},
          {"to", to},
          {"payload",
           {{"room_id", room},
            {"sdp", {{"type", kind}, {"sdp", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"}}}}}};
}

json ice_to(std::uint64_t to, const std::string& room, json candidate) {
  return {
      {"msg_type", kIce}, {"to", to}, {"payload", {{"room_id", room}, {"candidate", candidate}}}};
}

json join_room(Client& c, const std::string& room) {
  c.ws.send_json(message(kJoinRoom, {{"room_id", room}}));
  return c.ws.expect(kRoomJoined);
}

/// The Error the client receives next; checks its code and offending msg_type.
void expect_error(Client& c, const std::string& code, json offending_type) {
  auto e = c.ws.expect(kError);
  EXPECT_EQ(e["payload"]["code"], code) << e.dump();
  EXPECT_EQ(e["payload"]["msg_type"], offending_type) << e.dump();
  EXPECT_TRUE(e["payload"]["message"].is_string());
  EXPECT_EQ(e["from"], 0);
}

class SignalingTest : public ::testing::Test {
 protected:
  TestServer server_;
  std::uint16_t port() const { return server_.port(); }
};

TEST_F(SignalingTest, WelcomeIsTheFirstMessage) {
  auto a = connect_user(port(), "alice");
  EXPECT_EQ(a->welcome["msg_type"], kWelcome);
  EXPECT_EQ(a->welcome["from"], 0);
  EXPECT_EQ(a->welcome["payload"]["user_id"], a->id());
  EXPECT_EQ(a->welcome["payload"]["username"], "alice");
  EXPECT_EQ(a->welcome["payload"]["ice_servers"], json::array());
}

TEST(SignalingIce, WelcomeCarriesMintedTurnCredentials) {
  TestServer server([](Settings& s) {
    s.stun_urls = {"stun:stun.example.org:3478"};
    s.turn_urls = {"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"};
    s.turn_secret = "s3cret";
    s.turn_ttl = 600;
  });
  auto a = connect_user(server.port(), "alice");
  auto ice = a->welcome["payload"]["ice_servers"];
  ASSERT_EQ(ice.size(), 2u) << ice.dump();
  EXPECT_EQ(ice[0]["urls"], json::array({"stun:stun.example.org:3478"}));
  EXPECT_EQ(ice[1]["urls"].size(), 2u);
  auto username = ice[1]["username"].get<std::string>();
  auto colon = username.find(':');
  ASSERT_NE(colon, std::string::npos);
  auto expiry = std::stoll(username.substr(0, colon));
  EXPECT_EQ(username.substr(colon + 1), std::to_string(a->id()));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  EXPECT_NEAR(static_cast<double>(expiry - now), 600.0, 5.0);
  EXPECT_EQ(ice[1]["credential"], mint_turn_credential("s3cret", a->id(), expiry).credential);
}

TEST_F(SignalingTest, UpgradeWithoutValidCredentialsIs401) {
  register_user(port(), "alice");
  for (const auto& headers : std::vector<WsClient::Headers>{
           {}, {{"X-API-Key", std::string(43, 'x')}}, {{"Authorization", "Bearer nope"}}}) {
    WsClient ws;
    EXPECT_EQ(ws.connect(port(), "/ws", headers), 401);
    EXPECT_EQ(ws.refusal()["error"]["code"], "invalid_api_key");
  }
  WsClient bad_ticket;
  EXPECT_EQ(bad_ticket.connect(port(), "/ws?ticket=" + std::string(43, 'A')), 401);
  WsClient elsewhere;
  EXPECT_EQ(elsewhere.connect(port(), "/other", {}), 404);
}

TEST_F(SignalingTest, BearerKeyAndTicketBothAuthenticate) {
  auto user = register_user(port(), "alice");
  WsClient bearer;
  ASSERT_EQ(bearer.connect(port(), "/ws", {{"Authorization", "Bearer " + user.api_key}}), 101);
  EXPECT_EQ(bearer.expect(kWelcome)["payload"]["user_id"], user.user_id);
  auto t = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", user.api_key}});
  auto ticket = t.json_body["ticket"].get<std::string>();
  WsClient with_ticket;
  ASSERT_EQ(with_ticket.connect(port(), "/ws?ticket=" + ticket), 101);
  EXPECT_EQ(with_ticket.expect(kWelcome)["payload"]["user_id"], user.user_id);
  // Single use.
  WsClient again;
  EXPECT_EQ(again.connect(port(), "/ws?ticket=" + ticket), 401);
}

TEST(SignalingTickets, ExpiredTicketIsRefused) {
  TestServer server([](Settings& s) { s.ticket_ttl = 1; });
  auto user = register_user(server.port(), "alice");
  auto t = http_request(server.port(), "POST", "/ws-ticket", "", {{"X-API-Key", user.api_key}});
  EXPECT_EQ(t.json_body["expires_in"], 1);
  // Expiry is a span of time: outliving it is the point of the test.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  WsClient ws;
  EXPECT_EQ(ws.connect(server.port(), "/ws?ticket=" + t.json_body["ticket"].get<std::string>()),
            401);
}

TEST_F(SignalingTest, TicketIssuedBeforeRegenerateStopsWorking) {
  auto user = register_user(port(), "alice", "the password");
  auto t = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", user.api_key}});
  auto r =
      http_post_json(port(), "/regenerate", {{"Username", "alice"}, {"Password", "the password"}});
  ASSERT_EQ(r.status, 200);
  WsClient ws;
  EXPECT_EQ(ws.connect(port(), "/ws?ticket=" + t.json_body["ticket"].get<std::string>()), 401);
}

TEST(SignalingOrigins, OriginAllowListIsEnforced) {
  TestServer server([](Settings& s) { s.allowed_origins = {"https://app.example"}; });
  auto user = register_user(server.port(), "alice");
  WsClient good;
  EXPECT_EQ(good.connect(server.port(), "/ws",
                         {{"X-API-Key", user.api_key}, {"Origin", "https://app.example"}}),
            101);
  WsClient bad;
  EXPECT_EQ(bad.connect(server.port(), "/ws",
                        {{"X-API-Key", user.api_key}, {"Origin", "https://evil.example"}}),
            403);
  EXPECT_EQ(bad.refusal()["error"]["code"], "origin_not_allowed");
  WsClient none;
  EXPECT_EQ(none.connect(server.port(), "/ws", {{"X-API-Key", user.api_key}}), 403);
}

TEST_F(SignalingTest, RoomLifeCycleWithHostHandOver) {
  auto a = connect_user(port(), "alice");
  auto b = connect_user(port(), "bob");
  auto c = connect_user(port(), "carol");
  auto room = make_room(*a, {});
  EXPECT_GE(room.size(), 22u);

  auto joined_b = join_room(*b, room);
  EXPECT_EQ(joined_b["payload"]["room_id"], room);
  EXPECT_EQ(joined_b["payload"]["host"], a->id());
  EXPECT_EQ(joined_b["payload"]["members"], json::array({a->id(), b->id()}));
  auto pj = a->ws.expect(kPeerJoined);
  EXPECT_EQ(pj["payload"], json({{"room_id", room}, {"user_id", b->id()}}));

  auto joined_c = join_room(*c, room);
  EXPECT_EQ(joined_c["payload"]["members"], json::array({a->id(), b->id(), c->id()}));
  EXPECT_EQ(a->ws.expect(kPeerJoined)["payload"]["user_id"], c->id());
  EXPECT_EQ(b->ws.expect(kPeerJoined)["payload"]["user_id"], c->id());

  // Ready goes to the others, not back to the sender.
  c->ws.send_json(message(kReady, {{"room_id", room}}));
  EXPECT_EQ(a->ws.expect(kPeerReady)["payload"], json({{"room_id", room}, {"user_id", c->id()}}));
  EXPECT_EQ(b->ws.expect(kPeerReady)["payload"]["user_id"], c->id());

  // The host leaves: the next in join order (bob) becomes host.
  a->ws.send_json(message(kLeaveRoom, {{"room_id", room}}));
  auto left = b->ws.expect(kPeerLeft);
  EXPECT_EQ(left["payload"], json({{"room_id", room}, {"user_id", a->id()}, {"host", b->id()}}));
  EXPECT_EQ(c->ws.expect(kPeerLeft)["payload"]["host"], b->id());

  // The host disconnects (says goodbye: its session ends): carol becomes host.
  b->ws.close();
  auto gone = c->ws.expect(kPeerLeft);
  EXPECT_EQ(gone["payload"]["host"], c->id());

  // The last member leaves: the room is deleted.
  c->ws.send_json(message(kLeaveRoom, {{"room_id", room}}));
  a->ws.send_json(message(kJoinRoom, {{"room_id", room}}));
  expect_error(*a, "room_not_found", kJoinRoom);
  // Nothing else was sent to the sender meanwhile (the Ready echo, say).
  EXPECT_EQ(c->ws.pending(), 0u);
}

TEST_F(SignalingTest, RelaysSdpAndIceBetweenMembersWithFromSet) {
  auto a = connect_user(port(), "alice");
  auto b = connect_user(port(), "bob");
  auto room = make_room(*a, {b.get()});

  json offer = sdp_to(b->id(), room);
  offer["payload"]["extra"] = {{"nested", {1, 2.5, "three", nullptr, true}}};
  offer["client_tag"] = "kept";
  a->ws.send_json(offer);
  auto got = b->ws.expect(kSdp);
  json expected = offer;
  expected["from"] = a->id();
  // Numbered for bob (his session's seq), otherwise alice's message as she wrote it.
  EXPECT_TRUE(got["seq"].is_number_unsigned() && got["seq"].get<std::uint64_t>() > 0) << got;
  got.erase("seq");
  EXPECT_EQ(got, expected);

  // An explicit `from` equal to the sender is fine.
  json answer = sdp_to(a->id(), room, "answer");
  answer["from"] = b->id();
  b->ws.send_json(answer);
  EXPECT_EQ(a->ws.expect(kSdp)["payload"]["sdp"]["type"], "answer");

  json candidate = {{"candidate", "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host"},
                    {"sdpMid", "0"},
                    {"sdpMLineIndex", 0},
                    {"usernameFragment", "abcd"}};
  a->ws.send_json(ice_to(b->id(), room, candidate));
  auto ice = b->ws.expect(kIce);
  EXPECT_EQ(ice["payload"]["candidate"], candidate);
  EXPECT_EQ(ice["from"], a->id());
  EXPECT_EQ(ice["to"], b->id());
  a->ws.send_json(ice_to(b->id(), room, nullptr));
  EXPECT_TRUE(b->ws.expect(kIce)["payload"]["candidate"].is_null());
}

TEST_F(SignalingTest, NothingIsRelayedAcrossRoomsOrToNonMembers) {
  auto a = connect_user(port(), "alice");
  auto b = connect_user(port(), "bob");
  auto c = connect_user(port(), "carol");
  auto room1 = make_room(*a, {b.get()});
  auto room2 = make_room(*c, {});

  a->ws.send_json(sdp_to(c->id(), room1));  // carol is not in room1
  expect_error(*a, "peer_not_in_room", kSdp);
  a->ws.send_json(sdp_to(c->id(), room2));  // alice is not in room2
  expect_error(*a, "not_in_room", kSdp);
  a->ws.send_json(ice_to(c->id(), "no-such-room", nullptr));
  expect_error(*a, "room_not_found", kIce);
  a->ws.send_json(sdp_to(999999, room1));  // nobody
  expect_error(*a, "peer_not_in_room", kSdp);

  // A spoofed `from` is refused and delivered to nobody: bob's next message is the valid one.
  json spoof = sdp_to(b->id(), room1);
  spoof["from"] = c->id();
  a->ws.send_json(spoof);
  expect_error(*a, "forbidden", kSdp);
  a->ws.send_json(ice_to(b->id(), room1, nullptr));
  EXPECT_EQ(b->ws.expect(kIce)["from"], a->id());
  // And carol got nothing at all: her next message is one we send her now.
  c->ws.send_json(message(kReady, {{"room_id", room2}}));  // alone: PeerReady to nobody
  c->ws.send_json(message(kLeaveRoom, {{"room_id", room1}}));
  expect_error(*c, "not_in_room", kLeaveRoom);
}

TEST_F(SignalingTest, EveryMalformedMessageGetsItsErrorCode) {
  auto a = connect_user(port(), "alice");
  a->ws.send("{not json");
  expect_error(*a, "bad_json", nullptr);
  a->ws.send("[1,2]");
  expect_error(*a, "bad_envelope", nullptr);
  a->ws.send(R"({"msg_type":"0"})");
  expect_error(*a, "bad_envelope", nullptr);
  a->ws.send(R"({"msg_type":0,"to":-1})");
  expect_error(*a, "bad_envelope", 0);
  a->ws.send(R"({"msg_type":2,"payload":{"room_id":"x","sdp":{"type":"offer","sdp":""}}})");
  expect_error(*a, "bad_envelope", 2);
  a->ws.send(R"({"msg_type":42})");
  expect_error(*a, "unknown_type", 42);
  a->ws.send(R"({"msg_type":12})");
  expect_error(*a, "unknown_type", 12);
  a->ws.send(R"({"msg_type":1,"payload":{}})");
  expect_error(*a, "bad_payload", 1);
  a->ws.send(R"({"msg_type":1,"payload":[]})");
  expect_error(*a, "bad_payload", 1);
  a->ws.send(R"({"msg_type":0,"payload":{"max_members":0}})");
  expect_error(*a, "bad_payload", 0);
  a->ws.send(R"({"msg_type":0,"payload":{"max_members":65}})");
  expect_error(*a, "bad_payload", 0);
  a->ws.send(R"({"msg_type":2,"to":1,"payload":{"room_id":"x","sdp":{"type":"bogus","sdp":""}}})");
  expect_error(*a, "bad_payload", 2);
  a->ws.send(R"({"msg_type":3,"to":1,"payload":{"room_id":"x"}})");
  expect_error(*a, "bad_payload", 3);
  a->ws.send(R"({"msg_type":0,"from":1234567})");
  expect_error(*a, "forbidden", 0);
  a->ws.send(std::string(40, '[') + std::string(40, ']'));
  expect_error(*a, "bad_json", nullptr);
  // None of these closed the connection.
  a->ws.send_json(message(kCreateRoom, json::object()));
  a->ws.expect(kRoomCreated);
}

TEST(SignalingLimits, RoomFullAlreadyInRoomAndTooManyRooms) {
  TestServer server([](Settings& s) { s.rooms_per_user = 2; });
  auto a = connect_user(server.port(), "alice");
  auto b = connect_user(server.port(), "bob");
  auto solo = make_room(*a, {}, {{"max_members", 1}});
  b->ws.send_json(message(kJoinRoom, {{"room_id", solo}}));
  expect_error(*b, "room_full", kJoinRoom);
  a->ws.send_json(message(kJoinRoom, {{"room_id", solo}}));
  expect_error(*a, "already_in_room", kJoinRoom);
  auto second = make_room(*a, {});
  a->ws.send_json(message(kCreateRoom, json::object()));
  expect_error(*a, "too_many_rooms", kCreateRoom);
  auto bobs1 = make_room(*b, {});
  auto bobs2 = make_room(*b, {});
  a->ws.send_json(message(kJoinRoom, {{"room_id", bobs1}}));
  expect_error(*a, "too_many_rooms", kJoinRoom);
  // Leaving frees a place.
  a->ws.send_json(message(kLeaveRoom, {{"room_id", second}}));
  EXPECT_EQ(join_room(*a, bobs1)["payload"]["members"], json::array({b->id(), a->id()}));
}

TEST_F(SignalingTest, SecondConnectionReplacesTheFirst) {
  auto a = connect_user(port(), "alice");
  auto b = connect_user(port(), "bob");
  auto room = make_room(*b, {a.get()});
  WsClient second;
  second.connect_with_key(port(), a->account.api_key);
  EXPECT_EQ(a->ws.wait_closed(), 4002);
  auto left = b->ws.expect(kPeerLeft);
  EXPECT_EQ(left["payload"]["user_id"], a->id());
  // The new connection starts in no room, and works.
  second.send_json(sdp_to(b->id(), room));
  auto e = second.expect(kError);
  EXPECT_EQ(e["payload"]["code"], "not_in_room");
}

TEST_F(SignalingTest, RegenerateClosesKeyAndTicketSessionsWith4001) {
  auto user = register_user(port(), "alice", "the password");
  WsClient by_key;
  by_key.connect_with_key(port(), user.api_key);
  auto r =
      http_post_json(port(), "/regenerate", {{"Username", "alice"}, {"Password", "the password"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(by_key.wait_closed(), 4001);

  auto fresh = r.json_body["api_key"].get<std::string>();
  auto t = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", fresh}});
  WsClient by_ticket;
  ASSERT_EQ(by_ticket.connect(port(), "/ws?ticket=" + t.json_body["ticket"].get<std::string>()),
            101);
  by_ticket.expect(kWelcome);
  r = http_post_json(port(), "/regenerate", {{"Username", "alice"}, {"Password", "the password"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(by_ticket.wait_closed(), 4001);
}

TEST_F(SignalingTest, OversizedFrameCloses1009) {
  auto a = connect_user(port(), "alice");
  a->ws.send(std::string(64 * 1024 + 1, 'x'));
  EXPECT_EQ(a->ws.wait_closed(), 1009);
}

TEST_F(SignalingTest, FrameAtTheLimitIsAccepted) {
  auto a = connect_user(port(), "alice");
  std::string big = R"({"msg_type":0,"payload":{},"pad":")";
  big += std::string(64 * 1024 - big.size() - 2, 'x') + "\"}";
  ASSERT_EQ(big.size(), 64u * 1024);
  a->ws.send(big);
  a->ws.expect(kRoomCreated);
}

TEST_F(SignalingTest, BinaryFrameCloses1003) {
  auto a = connect_user(port(), "alice");
  a->ws.send(R"({"msg_type":0})", true);
  EXPECT_EQ(a->ws.wait_closed(), 1003);
}

TEST_F(SignalingTest, InvalidUtf8Closes1007) {
  auto a = connect_user(port(), "alice");
  a->ws.send("{\"msg_type\":0,\"x\":\"\xff\xfe\"}");
  EXPECT_EQ(a->ws.wait_closed(), 1007);
}

TEST_F(SignalingTest, OrderIsKeptPerSenderAndTarget) {
  auto a = connect_user(port(), "alice");
  auto b = connect_user(port(), "bob");
  auto room = make_room(*a, {b.get()});
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    a->ws.send_json(ice_to(b->id(), room, {{"candidate", "c" + std::to_string(i)}}));
  }
  for (int i = 0; i < kCount; ++i) {
    auto m = b->ws.expect(kIce);
    ASSERT_EQ(m["payload"]["candidate"]["candidate"], "c" + std::to_string(i));
  }
}

TEST(SignalingLimits, FloodIsRateLimitedThenClosed1008) {
  TestServer server([](Settings& s) {
    s.rate_limit_burst = 20;
    s.rate_limit_per_sec = 1;
    s.rate_limit_strikes = 5;
  });
  auto a = connect_user(server.port(), "alice");
  for (int i = 0; i < 60; ++i) a->ws.send(R"({"msg_type":4,"payload":{"room_id":"r"}})");
  int not_in_room = 0;
  int rate_limited = 0;
  while (auto m = a->ws.next()) {
    auto code = (*m)["payload"].value("code", "");
    if (code == "room_not_found") ++not_in_room;
    if (code == "rate_limited") {
      ++rate_limited;
      EXPECT_TRUE((*m)["payload"]["msg_type"].is_null());
    }
  }
  EXPECT_GE(not_in_room, 20);
  EXPECT_LE(not_in_room, 22);  // the burst, plus what refilled meanwhile
  EXPECT_GE(rate_limited, 5);
  EXPECT_EQ(a->ws.wait_closed(), 1008);
}

TEST(SignalingLimits, DefaultRateLimitAllowsACandidateStorm) {
  TestServer server;
  auto a = connect_user(server.port(), "alice");
  auto b = connect_user(server.port(), "bob");
  auto room = make_room(*a, {b.get()});
  for (int i = 0; i < 500; ++i) a->ws.send_json(ice_to(b->id(), room, nullptr));
  for (int i = 0; i < 500; ++i) ASSERT_EQ(b->ws.expect(kIce)["from"], a->id()) << i;
  EXPECT_EQ(a->ws.pending(), 0u);  // no rate_limited errors
}

TEST(SignalingLimits, SlowReaderIsCutOffWithoutHurtingOthers) {
  TestServer server([](Settings& s) { s.ws_send_queue = 16; });
  auto a = connect_user(server.port(), "alice");
  auto other1 = connect_user(server.port(), "carol");
  auto other2 = connect_user(server.port(), "dave");
  NonReadingUser bob;
  ASSERT_NO_FATAL_FAILURE(join_without_reading(server.port(), *a, "bob", bob));
  const auto& slow_account = bob.account;
  WsClient& slow = bob.ws;
  const std::string& room = bob.room;
  auto room2 = make_room(*other1, {other2.get()});

  // Far more than the socket buffers and the 16-message queue hold.
  std::string pad(32 * 1024, 'x');
  json big = sdp_to(slow_account.user_id, room);
  big["payload"]["pad"] = pad;
  for (int i = 0; i < 300; ++i) {
    if (!a->ws.send_json(big)) break;
    if (i % 50 == 0) {
      // Meanwhile, another pair's relay goes through.
      other1->ws.send_json(ice_to(other2->id(), room2, nullptr));
      EXPECT_EQ(other2->ws.expect(kIce)["from"], other1->id());
    }
  }
  // The server gives up on bob at once: alice sees him leave.
  auto left = a->ws.expect(kPeerLeft, std::chrono::seconds(20));
  EXPECT_EQ(left["payload"]["user_id"], slow_account.user_id);
  // When bob reads at last, he finds what was in flight, then the close: 1008.
  slow.start_reading();
  EXPECT_EQ(slow.wait_closed(std::chrono::seconds(10)), 1008);
  EXPECT_LE(slow.pending(), 300u);
}

TEST(SignalingLimits, AReaderThatPausesGetsEverythingInOrderOnceItReads) {
  // Room in the queue for all of it: only the socket's buffers fill, and the writes wait.
  TestServer server([](Settings& s) {
    s.ws_send_queue = 1000;
    s.rate_limit_per_sec = 10000;
    s.rate_limit_burst = 10000;
  });
  auto a = connect_user(server.port(), "alice");
  NonReadingUser bob;
  ASSERT_NO_FATAL_FAILURE(join_without_reading(server.port(), *a, "bob", bob));
  const auto& paused_account = bob.account;
  WsClient& paused = bob.ws;
  const std::string& room = bob.room;

  // About 9 MB: more than the kernel buffers between the two (4 MB at most for the daemon's
  // send buffer here, and bob's receive buffer does not grow while he does not read).
  constexpr int kCount = 150;
  json big = sdp_to(paused_account.user_id, room);
  for (int i = 0; i < kCount; ++i) {
    // Each one different, so a message sent twice, lost or cut shows.
    big["payload"]["pad"] = std::string(60 * 1024 + i, static_cast<char>('a' + i % 26));
    big["payload"]["seq"] = i;
    ASSERT_TRUE(a->ws.send_json(big)) << i;
  }
  // Once alice hears back, the daemon has queued all of it for bob; his socket's buffer
  // fills, and a write waits for it (a counter, polled: no event tells the test).
  a->ws.send_json(message(kCreateRoom, json::object()));
  a->ws.expect(kRoomCreated);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.writes_waited() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(server.writes_waited(), 1u);

  paused.start_reading();
  paused.expect(kWelcome);
  paused.expect(kRoomJoined);
  for (int i = 0; i < kCount; ++i) {
    auto m = paused.expect(kSdp, std::chrono::seconds(20));
    ASSERT_EQ(m["payload"]["seq"], i);
    ASSERT_EQ(m["payload"]["pad"], std::string(60 * 1024 + i, static_cast<char>('a' + i % 26)));
    ASSERT_EQ(m["from"], a->id());
  }
  // And the connection still works both ways.
  paused.send_json(ice_to(a->id(), room, nullptr));
  EXPECT_EQ(a->ws.expect(kIce)["from"], paused_account.user_id);
}

// With resume off, a lost connection leaves its rooms at once (see resume_test for the
// session kept for a resume instead).
TEST(SignalingKeepalive, SilentPeerIsDroppedAndLeavesItsRooms) {
  TestServer server([](Settings& s) {
    s.ws_ping_interval = 1;
    s.resume_window = 0;
  });
  auto a = connect_user(server.port(), "alice");
  NonReadingUser silent;
  ASSERT_NO_FATAL_FAILURE(join_without_reading(server.port(), *a, "bob", silent));
  // bob never reads, so never answers a ping; alice reads and answers, and stays.
  auto left = a->ws.expect(kPeerLeft, std::chrono::seconds(10));
  EXPECT_EQ(left["payload"]["user_id"], silent.account.user_id);
  a->ws.send_json(message(kCreateRoom, json::object()));
  a->ws.expect(kRoomCreated);
}

/// Users registered first, then connected one after another: the listener hands accepted
/// connections to the I/O threads in turn, so consecutive connections sit on different threads.
std::vector<std::unique_ptr<Client>> connect_in_turn(std::uint16_t port, int count) {
  std::vector<std::unique_ptr<Client>> users;
  for (int i = 0; i < count; ++i) {
    users.push_back(std::make_unique<Client>());
    users.back()->account = register_user(port, "user" + std::to_string(i));
  }
  for (auto& u : users) u->welcome = u->ws.connect_with_key(port, u->account.api_key);
  return users;
}

TEST(SignalingThreads, PairsOnTwoThreadsLoseNothingAndKeepTheirOrder) {
  TestServer server([](Settings& s) { s.io_threads = 2; });
  auto users = connect_in_turn(server.port(), 8);
  constexpr int kBurst = 40;
  for (std::size_t p = 0; p < users.size(); p += 2) {
    Client& host = *users[p];
    Client& joiner = *users[p + 1];
    host.ws.send_json(message(kCreateRoom, json::object()));
    std::string room = host.ws.expect(kRoomCreated)["payload"]["room_id"];
    // The joiner sends right behind its JoinRoom, without waiting: the relays cross from one
    // I/O thread to the other behind the room events, and must keep their order.
    joiner.ws.send_json(message(kJoinRoom, {{"room_id", room}}));
    for (int i = 0; i < kBurst; ++i) {
      joiner.ws.send_json(ice_to(host.id(), room, {{"candidate", "j" + std::to_string(i)}}));
    }
    EXPECT_EQ(host.ws.expect(kPeerJoined)["payload"]["user_id"], joiner.id());
    for (int i = 0; i < kBurst; ++i) {
      auto m = host.ws.expect(kIce);
      ASSERT_EQ(m["payload"]["candidate"]["candidate"], "j" + std::to_string(i));
      ASSERT_EQ(m["from"], joiner.id());
    }
    joiner.ws.expect(kRoomJoined);
    for (int i = 0; i < kBurst; ++i) {
      host.ws.send_json(ice_to(joiner.id(), room, {{"candidate", "h" + std::to_string(i)}}));
    }
    for (int i = 0; i < kBurst; ++i) {
      auto m = joiner.ws.expect(kIce);
      ASSERT_EQ(m["payload"]["candidate"]["candidate"], "h" + std::to_string(i));
    }
  }
  // A joiner still answers on its own thread.
  users[1]->ws.send_json(message(kLeaveRoom, {{"room_id", "nope"}}));
  expect_error(*users[1], "room_not_found", kLeaveRoom);
}

TEST(SignalingThreads, ReplacedOrDroppedAcrossThreadsClosesCleanly) {
  TestServer server([](Settings& s) {
    s.io_threads = 2;
    s.ws_ping_interval = 1;
    s.resume_window = 0;  // the dropped joiner leaves at once
  });
  auto users = connect_in_turn(server.port(), 4);
  // A joiner replaced by a second connection right behind its JoinRoom: the close (4002) is
  // handed to the thread the connection is on.
  Client& host = *users[0];
  host.ws.send_json(message(kCreateRoom, json::object()));
  std::string room = host.ws.expect(kRoomCreated)["payload"]["room_id"];
  users[1]->ws.send_json(message(kJoinRoom, {{"room_id", room}}));
  WsClient second;
  second.connect_with_key(server.port(), users[1]->account.api_key);
  EXPECT_EQ(users[1]->ws.wait_closed(), 4002);
  // The JoinRoom was handled before the replacement (PeerJoined, then PeerLeft) or dropped
  // with the replaced connection (neither): either way the host ends up alone.
  if (auto first = host.ws.next(std::chrono::seconds(2))) {
    EXPECT_EQ((*first)["msg_type"], kPeerJoined);
    EXPECT_EQ(host.ws.expect(kPeerLeft)["payload"]["user_id"], users[1]->id());
  }
  // Both the host and the new connection carry on.
  host.ws.send_json(message(kCreateRoom, json::object()));
  host.ws.expect(kRoomCreated);
  second.send_json(message(kCreateRoom, json::object()));
  second.expect(kRoomCreated);
  // A joiner that never reads, on the other thread from its host, is dropped by its keepalive.
  Client& host2 = *users[2];
  NonReadingUser silent;
  ASSERT_NO_FATAL_FAILURE(join_without_reading(server.port(), host2, "silent", silent));
  EXPECT_EQ(host2.ws.expect(kPeerLeft, std::chrono::seconds(10))["payload"]["user_id"],
            silent.account.user_id);
}

TEST(SignalingRestart, KnownKeysAreCheckedFromMemoryAfterARestart) {
  TempDir data;
  const std::string db = data.file("users.db");
  auto on_db = [&](Settings& s) { s.db_path = db; };
  Registered alice;
  {
    TestServer first(on_db);
    alice = register_user(first.port(), "alice");
  }
  TestServer restarted(on_db);
  // Behind the daemon's back, the stored key hash changes: a lookup in the store would now
  // refuse alice's key. The daemon loaded every key at start, so it admits her from memory.
  {
    SQLite::Database direct(db, SQLite::OPEN_READWRITE);
    direct.setBusyTimeout(5000);
    ASSERT_EQ(direct.exec("UPDATE users SET api_key_hash = x'00' WHERE username = 'alice'"), 1);
  }
  WsClient ws;
  auto welcome = ws.connect_with_key(restarted.port(), alice.api_key);
  EXPECT_EQ(welcome["payload"]["user_id"], alice.user_id);
  // A key it never saw still goes to the store, and is refused there.
  WsClient stranger;
  EXPECT_EQ(stranger.connect(restarted.port(), "/ws", {{"X-API-Key", std::string(43, 'A')}}), 401);
}

TEST(SignalingShutdown, ShutdownClosesWith1001) {
  TestServer server;
  auto a = connect_user(server.port(), "alice");
  server.stop();
  EXPECT_EQ(a->ws.wait_closed(), 1001);
}

}  // namespace
}  // namespace switchboard::test
