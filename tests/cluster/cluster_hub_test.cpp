// ClusterHub: two daemons' signaling cores ("a" and "b") on one real redis-server, with
// recording connections. Users on different daemons meet, relay in order, hand over the host,
// replace each other's connections and lose their keys as on one daemon.
#include "switchboard/signaling/cluster_hub.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/redis_fixture.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Inbox;

/// A connection that records what its hub hands it, from whichever thread.
class RecordingPeer : public Peer {
 public:
  RecordingPeer(UserId id, std::string key_hash = "key")
      : Peer(Identity{id, "user" + std::to_string(id), std::move(key_hash)}) {}
  void deliver(SharedText message) override { messages.push(json::parse(*message)); }
  void close(CloseCode code, std::string_view) override { closes.push(code); }

  /// The next message; a failure (and a null) when none came within the bound.
  json next(std::chrono::milliseconds bound = test::kRedisWait) {
    auto m = messages.next(bound);
    if (!m) ADD_FAILURE() << "user " << user_id() << " received nothing";
    return m.value_or(json());
  }
  bool quiet() { return !messages.next(200ms).has_value(); }

  Inbox<json> messages;
  Inbox<CloseCode> closes;
};

json create_room() {
  return {{"msg_type", 0}, {"payload", json::object()}};
}
json join(const std::string& room) {
  return {{"msg_type", 1}, {"payload", {{"room_id", room}}}};
}
json sdp_to(UserId to, const std::string& room, int n = 0) {
  return {
      {"msg_type", 2},
      {"to", to},
      {"payload", {{"room_id", room}, {"n", n}, {"sdp", {{"type", "offer"}, {"sdp", "v=0\r\n"}}}}}};
}

class ClusterHubTest : public test::RedisFixture {
 protected:
  void TearDown() override {
    // The hubs' handlers run on the io threads: stop those first.
    for (auto& h : hubs_) h->stop();
    RedisFixture::TearDown();
    hubs_.clear();
  }

  ClusterHub& hub(const std::string& node) {
    hubs_.push_back(std::make_unique<ClusterHub>(unstarted_client(), unstarted_client(), node,
                                                 RoomLimits{4, 8, 8}));
    auto states = std::make_shared<Inbox<bool>>();
    states_.push_back(states);
    hubs_.back()->on_state([states](bool up) { states->push(up); });
    hubs_.back()->start();
    EXPECT_EQ(states->next(), std::optional(true)) << node << " never came up";
    return *hubs_.back();
  }
  std::shared_ptr<RecordingPeer> connect(ClusterHub& h, UserId user, std::string key = "key") {
    auto p = std::make_shared<RecordingPeer>(user, std::move(key));
    h.connect(p);
    return p;
  }
  void send(ClusterHub& h, const std::shared_ptr<RecordingPeer>& p, const json& m) {
    h.handle(*p, m.dump());
  }
  /// `creator` makes a room on its daemon; the others join it on theirs.
  std::string room_of(std::vector<std::pair<ClusterHub*, std::shared_ptr<RecordingPeer>>> who) {
    auto& [h0, p0] = who.front();
    send(*h0, p0, create_room());
    auto created = p0->next();
    EXPECT_EQ(created["msg_type"], 5) << created.dump();
    std::string room = created["payload"]["room_id"];
    for (std::size_t i = 1; i < who.size(); ++i) {
      auto& [h, p] = who[i];
      send(*h, p, join(room));
      auto joined = p->next();
      EXPECT_EQ(joined["msg_type"], 6) << joined.dump();
      for (std::size_t j = 0; j < i; ++j) {
        auto heard = who[j].second->next();  // PeerJoined
        EXPECT_EQ(heard["msg_type"], 8) << heard.dump();
      }
    }
    return room;
  }

  std::vector<std::unique_ptr<ClusterHub>> hubs_;
  std::vector<std::shared_ptr<Inbox<bool>>> states_;  // each hub's up/down, in hub order
};

TEST_F(ClusterHubTest, UsersOnTwoDaemonsMeetRelayAndHandOverTheHost) {
  ClusterHub& a = hub("a");
  ClusterHub& b = hub("b");
  auto u1 = connect(a, 1);
  auto u2 = connect(b, 2);
  send(a, u1, create_room());
  json created = u1->next();
  ASSERT_EQ(created["msg_type"], 5);
  std::string room = created["payload"]["room_id"];
  send(b, u2, join(room));
  json joined = u2->next();
  EXPECT_EQ(joined["msg_type"], 6);
  EXPECT_EQ(joined["payload"]["host"], 1);
  EXPECT_EQ(joined["payload"]["members"], json::array({1, 2}));
  json peer_joined = u1->next();
  EXPECT_EQ(peer_joined["msg_type"], 8);
  EXPECT_EQ(peer_joined["payload"]["user_id"], 2);

  send(a, u1, sdp_to(2, room));
  json relayed = u2->next();
  EXPECT_EQ(relayed["msg_type"], 2);
  EXPECT_EQ(relayed["from"], 1);
  EXPECT_EQ(relayed["payload"]["sdp"]["type"], "offer");

  send(b, u2, {{"msg_type", 10}, {"payload", {{"room_id", room}}}});
  json ready = u1->next();
  EXPECT_EQ(ready["msg_type"], 11);
  EXPECT_EQ(ready["payload"]["user_id"], 2);

  // The host's connection ends: the other daemon's member hears it and is host now.
  a.disconnect(*u1);
  json left = u2->next();
  EXPECT_EQ(left["msg_type"], 9);
  EXPECT_EQ(left["payload"]["user_id"], 1);
  EXPECT_EQ(left["payload"]["host"], 2);
  EXPECT_TRUE(u2->quiet());
}

TEST_F(ClusterHubTest, RelaysAcrossDaemonsArriveInOrderAndBadOnesGetTheirError) {
  ClusterHub& a = hub("a");
  ClusterHub& b = hub("b");
  auto u1 = connect(a, 1);
  auto u2 = connect(b, 2);
  auto u3 = connect(b, 3);
  std::string room = room_of({{&a, u1}, {&b, u2}});
  constexpr int kRelays = 500;
  for (int i = 0; i < kRelays; ++i) send(a, u1, sdp_to(2, room, i));
  for (int i = 0; i < kRelays; ++i) {
    json m = u2->next();
    ASSERT_EQ(m["payload"]["n"], i) << m.dump();
  }
  send(b, u3, sdp_to(1, room));  // 3 is not in the room
  json error = u3->next();
  EXPECT_EQ(error["msg_type"], 7);
  EXPECT_EQ(error["payload"]["code"], "not_in_room") << error.dump();
  send(a, u1, sdp_to(3, room));  // 3 is connected, not a member
  EXPECT_EQ(u1->next()["payload"]["code"], "peer_not_in_room");
  send(a, u1, join("no-such-room"));
  EXPECT_EQ(u1->next()["payload"]["code"], "room_not_found");
  EXPECT_TRUE(u2->quiet());
}

TEST_F(ClusterHubTest, ASecondConnectionOnAnotherDaemonReplacesTheFirst) {
  ClusterHub& a = hub("a");
  ClusterHub& b = hub("b");
  auto first = connect(a, 5);
  auto u6 = connect(b, 6);
  std::string room = room_of({{&b, u6}, {&a, first}});
  auto second = connect(b, 5);
  EXPECT_EQ(first->closes.next(), std::optional(CloseCode::replaced));
  // The replaced user left its rooms, as on one daemon.
  json left = u6->next();
  EXPECT_EQ(left["msg_type"], 9);
  EXPECT_EQ(left["payload"]["user_id"], 5);
  // The late end of the first connection takes nothing from the second.
  a.disconnect(*first);
  send(b, second, join(room));
  EXPECT_EQ(second->next()["msg_type"], 6);
  EXPECT_EQ(u6->next()["msg_type"], 8);
  send(b, u6, sdp_to(5, room));
  EXPECT_EQ(second->next()["from"], 6);
  // What the replaced connection still sends is dropped.
  send(a, first, create_room());
  EXPECT_TRUE(first->quiet());
  EXPECT_EQ(a.connection_count(), 0u);
}

TEST_F(ClusterHubTest, ARevokedKeyClosesItsConnectionOnEveryDaemon) {
  ClusterHub& a = hub("a");
  ClusterHub& b = hub("b");
  auto old_key = connect(b, 3, "k1");
  a.revoke_key(3, "other");
  a.revoke_key(3, "k1");
  EXPECT_EQ(old_key->closes.next(), std::optional(CloseCode::key_revoked));
  EXPECT_FALSE(old_key->closes.next(200ms).has_value()) << "closed once, by the matching key";
}

TEST_F(ClusterHubTest, WithoutRedisTheSenderHearsUnavailableAndStaysConnected) {
  ClusterHub& a = hub("a");
  auto u1 = connect(a, 1);
  server_.stop();
  EXPECT_EQ(states_.front()->next(), std::optional(false)) << "the hub still says it is up";
  send(a, u1, create_room());
  json error = u1->next();
  EXPECT_EQ(error["msg_type"], 7);
  EXPECT_EQ(error["payload"]["code"], "unavailable") << error.dump();
  EXPECT_FALSE(u1->closes.next(100ms).has_value());
  // Redis back (empty): the hub is up again, with its user present again.
  server_.start();
  EXPECT_EQ(states_.front()->next(), std::optional(true));
  send(a, u1, create_room());
  EXPECT_EQ(u1->next()["msg_type"], 5);
  auto presence = command(client(), {"HGET", "sb:presence:1", "node"});
  EXPECT_EQ(presence.str, "a");
}

}  // namespace
}  // namespace switchboard
