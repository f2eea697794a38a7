#include "switchboard/signaling/signaling_hub.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::unit {
namespace {

using nlohmann::json;

/// A connection that records what the hub hands it.
class FakePeer : public Peer {
 public:
  FakePeer(UserId id, std::string key_hash = "key")
      : Peer(Identity{id, "user" + std::to_string(id), std::move(key_hash)}) {}

  void deliver(SharedText message) override { received.push_back(json::parse(*message)); }
  void close(CloseCode code, std::string_view reason) override {
    closes.push_back(code);
    close_reasons.emplace_back(reason);
  }

  /// Everything received since the last call.
  std::vector<json> take() { return std::exchange(received, {}); }

  std::vector<json> received;
  std::vector<CloseCode> closes;
  std::vector<std::string> close_reasons;
};

json sdp_to(UserId to, const std::string& room, const char* type = "offer") {
  return {{"msg_type", 2},
          {"to", to},
          {"payload", {{"room_id", room}, {"sdp", {{"type", type}, {"sdp", "v=0\r\n"}}}}}};
}

/// Users 1 and 2 in a room, 1's route to 2 warm: it has relayed to 2 once.
struct WarmPair {
  std::shared_ptr<FakePeer> a, b;
  std::string room;
};

/// A hub whose rooms are called "room-1", "room-2", ... The fixture is named like the class so
/// that the suite reads SignalingHub.*; the class itself is switchboard::SignalingHub.
struct SignalingHub : ::testing::Test {
  SignalingHub()
      : hub(RoomLimits{4, 8, 2}, [n = 0]() mutable { return "room-" + std::to_string(++n); }) {}

  std::shared_ptr<FakePeer> connect(UserId id, std::string key_hash = "key") {
    auto p = std::make_shared<FakePeer>(id, std::move(key_hash));
    hub.connect(p);
    return p;
  }
  void send(FakePeer& from, const json& message) { hub.handle(from, message.dump()); }

  /// Creates a room with `host` and has `guests` join it; clears everyone's inbox.
  std::string room_with(const std::shared_ptr<FakePeer>& host,
                        const std::vector<std::shared_ptr<FakePeer>>& guests) {
    send(*host, {{"msg_type", 0}});
    auto created = host->take();
    EXPECT_EQ(created.size(), 1u);
    std::string id = created.empty() ? "" : created[0]["payload"]["room_id"].get<std::string>();
    for (const auto& g : guests) send(*g, {{"msg_type", 1}, {"payload", {{"room_id", id}}}});
    host->take();
    for (const auto& g : guests) g->take();
    return id;
  }

  WarmPair warm_pair() {
    WarmPair p{connect(1), connect(2), {}};
    p.room = room_with(p.a, {p.b});
    send(*p.a, sdp_to(2, p.room));
    auto got = p.b->take();
    EXPECT_EQ(got.size(), 1u);
    return p;
  }

  switchboard::SignalingHub hub;
};

void expect_error(const std::vector<json>& inbox, const char* code, int msg_type) {
  ASSERT_EQ(inbox.size(), 1u) << code;
  EXPECT_EQ(inbox[0]["msg_type"], 7) << inbox[0].dump();
  EXPECT_EQ(inbox[0]["from"], 0);
  EXPECT_EQ(inbox[0]["payload"]["code"], code) << inbox[0].dump();
  EXPECT_EQ(inbox[0]["payload"]["msg_type"], msg_type) << inbox[0].dump();
}

json with_from(json message, UserId from) {
  message["from"] = from;
  return message;
}

TEST_F(SignalingHub, ConnectSendsNothing) {
  // Welcome is the session's job, not the hub's.
  auto a = connect(1);
  EXPECT_TRUE(a->received.empty());
  EXPECT_TRUE(a->closes.empty());
  EXPECT_EQ(hub.connection_count(), 1u);
  connect(2);
  EXPECT_EQ(hub.connection_count(), 2u);
}

TEST_F(SignalingHub, DisconnectForgetsTheConnection) {
  auto a = connect(1);
  auto b = connect(2);
  hub.disconnect(*a);
  EXPECT_EQ(hub.connection_count(), 1u);
  hub.disconnect(*a);  // twice is harmless
  EXPECT_EQ(hub.connection_count(), 1u);
  hub.disconnect(*b);
  EXPECT_EQ(hub.connection_count(), 0u);
  EXPECT_TRUE(a->closes.empty());
}

TEST_F(SignalingHub, CreateRoomRepliesRoomCreatedToSenderOnly) {
  auto a = connect(1);
  auto b = connect(2);
  send(*a, {{"msg_type", 0}});
  auto inbox = a->take();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0]["msg_type"], 5);
  EXPECT_EQ(inbox[0]["from"], 0);
  EXPECT_EQ(inbox[0]["payload"]["room_id"], "room-1");
  EXPECT_EQ(inbox[0]["payload"]["host"], 1);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(hub.room_count(), 1u);
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, JoinRoomTellsJoinerAndOthers) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  auto outsider = connect(4);
  std::string room = room_with(a, {});

  send(*b, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  auto joined = b->take();
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0]["msg_type"], 6);
  EXPECT_EQ(joined[0]["from"], 0);
  EXPECT_EQ(joined[0]["payload"]["room_id"], room);
  EXPECT_EQ(joined[0]["payload"]["host"], 1);
  EXPECT_EQ(joined[0]["payload"]["members"], json::array({1, 2}));
  auto event = a->take();
  ASSERT_EQ(event.size(), 1u);
  EXPECT_EQ(event[0]["msg_type"], 8);
  EXPECT_EQ(event[0]["from"], 0);
  EXPECT_EQ(event[0]["payload"], json({{"room_id", room}, {"user_id", 2}}));

  send(*c, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  joined = c->take();
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0]["payload"]["members"], json::array({1, 2, 3}));
  EXPECT_EQ(joined[0]["payload"]["host"], 1);
  for (auto* p : {a.get(), b.get()}) {
    auto e = p->take();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["msg_type"], 8);
    EXPECT_EQ(e[0]["payload"]["user_id"], 3);
  }
  EXPECT_TRUE(outsider->received.empty());
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, ReadyTellsOthersOnly) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  auto outsider = connect(4);
  std::string room = room_with(a, {b, c});
  send(*b, {{"msg_type", 10}, {"payload", {{"room_id", room}}}});
  EXPECT_TRUE(b->received.empty());
  for (auto* p : {a.get(), c.get()}) {
    auto e = p->take();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["msg_type"], 11);
    EXPECT_EQ(e[0]["from"], 0);
    EXPECT_EQ(e[0]["payload"], json({{"room_id", room}, {"user_id", 2}}));
  }
  EXPECT_TRUE(outsider->received.empty());
}

TEST_F(SignalingHub, SdpIsRelayedToTheTargetOnlyWithFromSet) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  std::string room = room_with(a, {b, c});
  json offer = sdp_to(2, room);
  offer["payload"]["sdp"]["sdp"] = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n";
  offer["payload"]["extra"] = {{"trace", json::array({1, 2.5, "x"})}};
  send(*a, offer);

  auto got = b->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["from"], 1);
  json without_from = got[0];
  without_from.erase("from");
  EXPECT_EQ(without_from, offer);
  EXPECT_TRUE(a->received.empty());
  EXPECT_TRUE(c->received.empty());
}

TEST_F(SignalingHub, IceCandidateIsRelayedIncludingEndOfCandidates) {
  auto a = connect(1);
  auto b = connect(2);
  std::string room = room_with(a, {b});
  json candidate = {{"msg_type", 3},
                    {"to", 1},
                    {"payload",
                     {{"room_id", room},
                      {"candidate",
                       {{"candidate", "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"},
                        {"sdpMid", "0"},
                        {"sdpMLineIndex", 0},
                        {"usernameFragment", "f00d"}}}}}};
  json end = {{"msg_type", 3},
              {"to", 1},
              {"from", 2},
              {"payload", {{"room_id", room}, {"candidate", nullptr}}}};
  send(*b, candidate);
  send(*b, end);
  auto got = a->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["from"], 2);
  EXPECT_EQ(got[0]["payload"], candidate["payload"]);
  EXPECT_EQ(got[1], end);  // `from` was already the sender's own id
  EXPECT_TRUE(got[1]["payload"]["candidate"].is_null());
  EXPECT_TRUE(b->received.empty());
}

TEST_F(SignalingHub, RelayKeepsOrderPerSenderAndTarget) {
  auto a = connect(1);
  auto b = connect(2);
  std::string room = room_with(a, {b});
  for (int i = 0; i < 50; ++i) {
    json m = {
        {"msg_type", 3}, {"to", 2}, {"payload", {{"room_id", room}, {"candidate", {{"seq", i}}}}}};
    send(*a, m);
  }
  auto got = b->take();
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)]["payload"]["candidate"]["seq"], i);
}

TEST_F(SignalingHub, NothingIsRelayedAcrossRooms) {
  auto a = connect(1);
  auto b = connect(2);
  auto d = connect(4);
  auto e = connect(5);
  std::string room1 = room_with(a, {b});
  std::string room2 = room_with(d, {e});

  // The target is in another room.
  send(*a, sdp_to(4, room1));
  expect_error(a->take(), "peer_not_in_room", 2);
  // Naming the other room does not help: the sender is not in it.
  send(*a, sdp_to(4, room2));
  expect_error(a->take(), "not_in_room", 2);
  EXPECT_TRUE(b->received.empty());
  EXPECT_TRUE(d->received.empty());
  EXPECT_TRUE(e->received.empty());
}

TEST_F(SignalingHub, NothingIsRelayedToAMemberWhoseConnectionIsGone) {
  auto a = connect(1);
  auto b = connect(2);
  std::string room = room_with(a, {b});
  // The session object is gone without a disconnect yet (a race the hub must survive).
  b.reset();
  send(*a, sdp_to(2, room));
  expect_error(a->take(), "peer_not_in_room", 2);
}

TEST_F(SignalingHub, RelayToANonMemberIsPeerNotInRoom) {
  auto a = connect(1);
  auto b = connect(2);
  auto stranger = connect(3);
  std::string room = room_with(a, {b});
  send(*a, sdp_to(3, room));
  expect_error(a->take(), "peer_not_in_room", 2);
  EXPECT_TRUE(stranger->received.empty());
  EXPECT_TRUE(b->received.empty());
}

// A relay goes where the sender's last one went while nothing has changed in the hub: each
// change below must be seen by the relay right after it, with the route warm.
void expect_relayed(FakePeer& from, FakePeer& to, std::size_t n = 1) {
  EXPECT_TRUE(from.take().empty());
  auto got = to.take();
  ASSERT_EQ(got.size(), n);
  EXPECT_EQ(got.back()["from"], from.user_id());
}

TEST_F(SignalingHub, ARelayAfterTheTargetOrTheSenderLeftTheRoomIsRefused) {
  for (bool target_leaves : {true, false}) {
    SCOPED_TRACE(target_leaves ? "the target leaves" : "the sender leaves");
    auto [a, b, room] = warm_pair();
    send(*a, sdp_to(2, room));  // the remembered route, taken
    expect_relayed(*a, *b);
    send(target_leaves ? *b : *a, {{"msg_type", 4}, {"payload", {{"room_id", room}}}});
    a->take();
    b->take();
    send(*a, sdp_to(2, room));
    expect_error(a->take(), target_leaves ? "peer_not_in_room" : "not_in_room", 2);
    EXPECT_TRUE(b->take().empty());
    hub.disconnect(*a);
    hub.disconnect(*b);
  }
}

TEST_F(SignalingHub, ARelayAfterTheTargetReconnectedGoesToTheNewConnectionOnceItRejoins) {
  auto [a, b1, room] = warm_pair();
  auto b2 = connect(2);  // replaces b1, which leaves the room
  a->take();
  send(*a, sdp_to(2, room));
  expect_error(a->take(), "peer_not_in_room", 2);
  send(*b2, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  b2->take();
  a->take();
  send(*a, sdp_to(2, room));
  expect_relayed(*a, *b2);
  EXPECT_TRUE(b1->take().empty());
}

TEST_F(SignalingHub, ARelayFromAReplacedConnectionIsDroppedEvenWithItsRouteWarm) {
  auto [a1, b, room] = warm_pair();
  auto a2 = connect(1);
  b->take();
  send(*a1, sdp_to(2, room));  // still in flight from the replaced session
  EXPECT_TRUE(a1->take().empty());
  EXPECT_TRUE(b->take().empty());
}

TEST_F(SignalingHub, ARelayAfterTheTargetDisconnectedIsRefusedEvenWithItsRouteWarm) {
  auto [a, b, room] = warm_pair();
  hub.disconnect(*b);  // the session object lives on (a close in progress)
  a->take();
  send(*a, sdp_to(2, room));
  expect_error(a->take(), "peer_not_in_room", 2);
  EXPECT_TRUE(b->take().empty());
}

TEST_F(SignalingHub, ARelayFromADisconnectedSenderIsDroppedEvenWithItsRouteWarm) {
  auto [a, b, room] = warm_pair();
  hub.disconnect(*a);  // still reading what was already in flight
  b->take();
  send(*a, sdp_to(2, room));
  EXPECT_TRUE(a->take().empty());
  EXPECT_TRUE(b->take().empty());
}

TEST_F(SignalingHub, ARelayToATargetWhoseSessionIsGoneIsRefusedEvenWithItsRouteWarm) {
  auto [a, b, room] = warm_pair();
  b.reset();  // gone without a disconnect yet
  send(*a, sdp_to(2, room));
  expect_error(a->take(), "peer_not_in_room", 2);
}

TEST_F(SignalingHub, ARelayNamingAnotherRoomOrTargetIsCheckedAgain) {
  auto [a, b, room1] = warm_pair();
  auto d = connect(4);
  auto e = connect(5);
  std::string room2 = room_with(d, {e});
  send(*a, sdp_to(2, room2));  // same target, a room the sender is not in
  expect_error(a->take(), "not_in_room", 2);
  send(*a, sdp_to(5, room1));  // same room, a target outside it
  expect_error(a->take(), "peer_not_in_room", 2);
  EXPECT_TRUE(b->take().empty());
  EXPECT_TRUE(e->take().empty());
}

TEST_F(SignalingHub, EveryErrorReachesOnlyTheSender) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  auto d = connect(4);
  auto e = connect(5);
  auto f = connect(6);
  std::string room = room_with(a, {b});
  // A full room of size 1, owned by c.
  send(*c, {{"msg_type", 0}, {"payload", {{"max_members", 1}}}});
  std::string tiny = c->take().at(0)["payload"]["room_id"].get<std::string>();

  struct Case {
    FakePeer* sender;
    std::string text;
    const char* code;
    json msg_type;
  };
  const Case cases[] = {
      {a.get(), "{not json", "bad_json", nullptr},
      {a.get(), "[1,2]", "bad_envelope", nullptr},
      {a.get(), R"({"msg_type":"2"})", "bad_envelope", nullptr},
      {a.get(), json{{"msg_type", 1}, {"payload", 5}}.dump(), "bad_payload", 1},
      {a.get(), json{{"msg_type", 0}, {"payload", {{"max_members", 9}}}}.dump(), "bad_payload", 0},
      {a.get(), json{{"msg_type", 7}}.dump(), "unknown_type", 7},
      {a.get(), json{{"msg_type", 13}}.dump(), "unknown_type", 13},
      {a.get(), json{{"msg_type", 1}, {"from", 2}, {"payload", {{"room_id", room}}}}.dump(),
       "forbidden", 1},
      {a.get(), with_from(sdp_to(2, room), 2).dump(), "forbidden", 2},
      {a.get(), json{{"msg_type", 1}, {"payload", {{"room_id", "room-404"}}}}.dump(),
       "room_not_found", 1},
      {a.get(), json{{"msg_type", 4}, {"payload", {{"room_id", "room-404"}}}}.dump(),
       "room_not_found", 4},
      {a.get(), json{{"msg_type", 10}, {"payload", {{"room_id", "room-404"}}}}.dump(),
       "room_not_found", 10},
      {a.get(), sdp_to(2, "room-404").dump(), "room_not_found", 2},
      {a.get(), json{{"msg_type", 1}, {"payload", {{"room_id", tiny}}}}.dump(), "room_full", 1},
      {b.get(), json{{"msg_type", 1}, {"payload", {{"room_id", room}}}}.dump(), "already_in_room",
       1},
      {d.get(), json{{"msg_type", 4}, {"payload", {{"room_id", room}}}}.dump(), "not_in_room", 4},
      {d.get(), json{{"msg_type", 10}, {"payload", {{"room_id", room}}}}.dump(), "not_in_room", 10},
      {d.get(), sdp_to(1, room).dump(), "not_in_room", 2},
      {a.get(), sdp_to(5, room).dump(), "peer_not_in_room", 2},
  };
  for (const auto& c_ : cases) {
    SCOPED_TRACE(c_.text);
    hub.handle(*c_.sender, c_.text);
    auto inbox = c_.sender->take();
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_EQ(inbox[0]["msg_type"], 7);
    EXPECT_EQ(inbox[0]["from"], 0);
    EXPECT_EQ(inbox[0]["payload"]["code"], c_.code);
    EXPECT_EQ(inbox[0]["payload"]["msg_type"], c_.msg_type);
    EXPECT_TRUE(inbox[0]["payload"]["message"].is_string());
    for (auto* other : {a.get(), b.get(), c.get(), d.get(), e.get(), f.get()}) {
      EXPECT_TRUE(other->received.empty())
          << "user " << other->user_id() << " got " << other->received.front().dump();
      other->received.clear();
    }
    EXPECT_TRUE(hub.invariants_hold());
  }

  // too_many_rooms (the limit is 2 rooms per user here): e creates two, then a third.
  send(*e, {{"msg_type", 0}});
  send(*e, {{"msg_type", 0}});
  e->take();
  send(*e, {{"msg_type", 0}});
  expect_error(e->take(), "too_many_rooms", 0);
  // ... and on join.
  send(*e, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  expect_error(e->take(), "too_many_rooms", 1);
  for (auto* other : {a.get(), b.get(), c.get(), d.get(), f.get()}) {
    EXPECT_TRUE(other->received.empty()) << other->user_id();
  }
  // No Error closed anything.
  for (auto* p : {a.get(), b.get(), c.get(), d.get(), e.get(), f.get()}) {
    EXPECT_TRUE(p->closes.empty());
  }
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, LeaveRoomTellsTheRemainingMembers) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  std::string room = room_with(a, {b, c});
  send(*a, {{"msg_type", 4}, {"payload", {{"room_id", room}}}});
  EXPECT_TRUE(a->received.empty());
  for (auto* p : {b.get(), c.get()}) {
    auto e = p->take();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["msg_type"], 9);
    EXPECT_EQ(e[0]["from"], 0);
    EXPECT_EQ(e[0]["payload"], json({{"room_id", room}, {"user_id", 1}, {"host", 2}}));
  }
  // The leaver can no longer relay into the room.
  send(*a, sdp_to(2, room));
  expect_error(a->take(), "not_in_room", 2);
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, DisconnectSendsPeerLeftWithNewHost) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  std::string room = room_with(a, {b, c});
  hub.disconnect(*a);
  for (auto* p : {b.get(), c.get()}) {
    auto e = p->take();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["msg_type"], 9);
    EXPECT_EQ(e[0]["payload"], json({{"room_id", room}, {"user_id", 1}, {"host", 2}}));
  }
  EXPECT_TRUE(a->received.empty());
  EXPECT_EQ(hub.connection_count(), 2u);
  EXPECT_EQ(hub.room_count(), 1u);
  // The new host is really host: the next joiner sees it.
  auto d = connect(4);
  send(*d, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  auto joined = d->take();
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0]["payload"]["host"], 2);
  EXPECT_EQ(joined[0]["payload"]["members"], json::array({2, 3, 4}));
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, DisconnectLeavesEveryRoom) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  std::string r1 = room_with(a, {b});
  std::string r2 = room_with(c, {a});
  hub.disconnect(*a);
  auto eb = b->take();
  ASSERT_EQ(eb.size(), 1u);
  EXPECT_EQ(eb[0]["payload"], json({{"room_id", r1}, {"user_id", 1}, {"host", 2}}));
  auto ec = c->take();
  ASSERT_EQ(ec.size(), 1u);
  EXPECT_EQ(ec[0]["payload"], json({{"room_id", r2}, {"user_id", 1}, {"host", 3}}));
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, LastMemberDisconnectingDeletesTheRoom) {
  auto a = connect(1);
  std::string room = room_with(a, {});
  ASSERT_EQ(hub.room_count(), 1u);
  hub.disconnect(*a);
  EXPECT_EQ(hub.room_count(), 0u);
  auto b = connect(2);
  send(*b, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  expect_error(b->take(), "room_not_found", 1);
}

TEST_F(SignalingHub, SecondConnectionReplacesTheFirst) {
  auto a1 = connect(1);
  auto b = connect(2);
  std::string room = room_with(a1, {b});

  auto a2 = connect(1);
  ASSERT_EQ(a1->closes.size(), 1u);
  EXPECT_EQ(a1->closes[0], CloseCode::replaced);
  EXPECT_EQ(static_cast<int>(a1->closes[0]), 4002);
  EXPECT_TRUE(a2->closes.empty());
  EXPECT_EQ(hub.connection_count(), 2u);

  // The old connection left its rooms: the others are told, with the new host.
  auto e = b->take();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["msg_type"], 9);
  EXPECT_EQ(e[0]["payload"], json({{"room_id", room}, {"user_id", 1}, {"host", 2}}));
  EXPECT_TRUE(a2->received.empty());
  EXPECT_TRUE(hub.invariants_hold());

  // The new connection starts with no rooms and may rejoin.
  send(*a2, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  auto joined = a2->take();
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0]["msg_type"], 6);
  EXPECT_EQ(joined[0]["payload"]["members"], json::array({2, 1}));
}

TEST_F(SignalingHub, ReplacedConnectionIsIgnored) {
  auto a1 = connect(1);
  auto b = connect(2);
  std::string room = room_with(b, {});
  auto a2 = connect(1);
  send(*a2, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  a2->take();
  b->take();
  a1->received.clear();

  // Messages still in flight from the replaced session do nothing.
  send(*a1, {{"msg_type", 0}});
  send(*a1, sdp_to(2, room));
  send(*a1, {{"msg_type", 4}, {"payload", {{"room_id", room}}}});
  EXPECT_TRUE(a1->received.empty());
  EXPECT_TRUE(a2->received.empty());
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(hub.room_count(), 1u);

  // Its late disconnect does not disturb the new connection.
  hub.disconnect(*a1);
  EXPECT_EQ(hub.connection_count(), 2u);
  EXPECT_TRUE(b->received.empty());
  send(*b, sdp_to(1, room));
  auto got = a2->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["from"], 2);
  EXPECT_TRUE(a1->received.empty());
  EXPECT_TRUE(hub.invariants_hold());
}

TEST_F(SignalingHub, RevokeKeyClosesOnlyTheMatchingKey) {
  auto a = connect(1, "hash-old");
  auto b = connect(2, "hash-old");
  hub.revoke_key(1, "hash-other");
  EXPECT_TRUE(a->closes.empty());
  hub.revoke_key(3, "hash-old");
  EXPECT_TRUE(a->closes.empty());
  EXPECT_TRUE(b->closes.empty());
  hub.revoke_key(1, "hash-old");
  ASSERT_EQ(a->closes.size(), 1u);
  EXPECT_EQ(a->closes[0], CloseCode::key_revoked);
  EXPECT_EQ(static_cast<int>(a->closes[0]), 4001);
  EXPECT_TRUE(b->closes.empty());
}

TEST_F(SignalingHub, RevokeKeyLeavesANewerKeysConnectionOpen) {
  auto old_conn = connect(1, "hash-old");
  auto new_conn = connect(1, "hash-new");
  old_conn->closes.clear();  // the replacement close
  hub.revoke_key(1, "hash-old");
  EXPECT_TRUE(new_conn->closes.empty());
  EXPECT_TRUE(old_conn->closes.empty());
}

TEST_F(SignalingHub, CloseAllClosesEveryConnection) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  hub.close_all(CloseCode::going_away, "shutting down");
  for (auto* p : {a.get(), b.get(), c.get()}) {
    ASSERT_EQ(p->closes.size(), 1u);
    EXPECT_EQ(p->closes[0], CloseCode::going_away);
    EXPECT_EQ(static_cast<int>(p->closes[0]), 1001);
  }
}

TEST_F(SignalingHub, CreateWithMaxMembersIsEnforced) {
  auto a = connect(1);
  auto b = connect(2);
  auto c = connect(3);
  send(*a, {{"msg_type", 0}, {"payload", {{"max_members", 2}}}});
  std::string room = a->take().at(0)["payload"]["room_id"].get<std::string>();
  send(*b, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  ASSERT_EQ(b->take().size(), 1u);
  a->take();
  send(*c, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  expect_error(c->take(), "room_full", 1);
  EXPECT_TRUE(a->received.empty());
  EXPECT_TRUE(b->received.empty());
}

TEST_F(SignalingHub, InvariantsHoldThroughAChurnOfPeers) {
  std::vector<std::shared_ptr<FakePeer>> peers;
  for (UserId u = 1; u <= 6; ++u) peers.push_back(connect(u));
  std::string room = room_with(peers[0], {peers[1], peers[2]});
  for (int round = 0; round < 20; ++round) {
    auto& p = peers[static_cast<std::size_t>(round % 6)];
    send(*p, {{"msg_type", 1}, {"payload", {{"room_id", room}}}});
    send(*p, {{"msg_type", 10}, {"payload", {{"room_id", room}}}});
    ASSERT_TRUE(hub.invariants_hold());
    if (round % 3 == 0) {
      hub.disconnect(*p);
      p = connect(p->user_id());
    }
    ASSERT_TRUE(hub.invariants_hold());
  }
}

}  // namespace
}  // namespace switchboard::unit

namespace switchboard::unit {
namespace {

TEST_F(SignalingHub, HandleSaysWhatBecameOfTheMessage) {
  auto p = warm_pair();
  // A relay, on the remembered route and on a fresh lookup alike.
  auto relayed = hub.handle(*p.a, sdp_to(2, p.room).dump());
  EXPECT_EQ(relayed.msg_type, 2);
  EXPECT_FALSE(relayed.error);
  EXPECT_TRUE(relayed.relayed);
  // A failure the parse finds, with or without a type.
  auto garbled = hub.handle(*p.a, "not json");
  EXPECT_EQ(garbled.msg_type, std::nullopt);
  EXPECT_EQ(garbled.error, SignalError::bad_json);
  EXPECT_FALSE(garbled.relayed);
  // A failure the rooms find.
  auto lost = hub.handle(*p.a, json{{"msg_type", 1}, {"payload", {{"room_id", "nope"}}}}.dump());
  EXPECT_EQ(lost.msg_type, 1);
  EXPECT_EQ(lost.error, SignalError::room_not_found);
  // Success that relays nothing.
  auto ready = hub.handle(*p.b, json{{"msg_type", 10}, {"payload", {{"room_id", p.room}}}}.dump());
  EXPECT_EQ(ready.msg_type, 10);
  EXPECT_FALSE(ready.error);
  EXPECT_FALSE(ready.relayed);
  // Rooms and members, read together.
  auto totals = hub.room_totals();
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->rooms, 1u);
  EXPECT_EQ(totals->members, 2u);
}

}  // namespace
}  // namespace switchboard::unit
