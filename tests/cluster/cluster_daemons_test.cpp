// The cluster as operators run it (protocol.md section 6, docs/cluster.md): two or three real
// `switchboard` processes on one redis-server of the test's own and one PostgreSQL database,
// and clients that each talk to one of them over loopback. What holds for one daemon
// (sections 1, 2 and 5) must hold across them, and what a cluster adds must work: a daemon
// killed with kill -9 is reaped by the others, and Redis can go away and come back.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/connected_user.hpp"
#include "support/cutting_proxy.hpp"
#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/postgres_server.hpp"
#include "support/redis_server.hpp"
#include "support/resuming_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

constexpr int kCreate = 0, kJoin = 1, kSdp = 2, kIce = 3, kLeave = 4, kCreated = 5, kJoined = 6,
              kError = 7, kPeerJoined = 8, kPeerLeft = 9, kReady = 10, kPeerReady = 11,
              kRoomClosed = 13;
const std::string kAdminToken = "cluster-admin-token-of-forty-characters!";
const std::string kPassword = "correct horse battery";  // register_user's default

/// Polls `what` until it holds; false at the timeout. For states a daemon changes by itself
/// (/readyz, a log line), where there is no event to await from outside the process.
template <class Check>
bool eventually(Check what, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (what()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return what();
}

bool await_readyz(std::uint16_t port, int status, std::chrono::milliseconds timeout = 20s) {
  return eventually(
      [&] { return http_request(port, "GET", "/readyz", "", {}, 2s).status == status; }, timeout);
}

json room_message(int type, const std::string& room) {
  return {{"msg_type", type}, {"payload", {{"room_id", room}}}};
}

json sdp_to(std::uint64_t to, const std::string& room, int n) {
  return {{"msg_type", kSdp},
          {"to", to},
          {"payload", {{"room_id", room}, {"n", n}, {"sdp", {{"type", "offer"}, {"sdp", "v=0"}}}}}};
}

json ice_to(std::uint64_t to, const std::string& room, int n) {
  return {{"msg_type", kIce},
          {"to", to},
          {"payload", {{"room_id", room}, {"n", n}, {"candidate", {{"candidate", "c"}}}}}};
}

HttpResult admin(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& body = "") {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + kAdminToken}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return http_request(port, method, target, body, headers);
}

/// The next message of type `type`, skipping up to `limit` others of type `skip` (what a
/// load left queued: relays, or their errors). Fails the test on anything else.
json expect_skipping(WsClient& ws, int type, int skip, int limit = 1000) {
  for (int i = 0; i <= limit; ++i) {
    auto m = ws.next();
    if (!m) break;
    if ((*m)["msg_type"] == type) return *m;
    if ((*m)["msg_type"] != skip) {
      ADD_FAILURE() << "unexpected while waiting for type " << type << ": " << m->dump();
      return *m;
    }
  }
  ADD_FAILURE() << "no message of type " << type;
  return json();
}

/// Up to three daemons on one Redis and one PostgreSQL database (fresh per test, so usernames
/// need not be unique across tests). Each daemon is stopped with SIGTERM at the end and must
/// exit 0; its log is printed when the test failed.
class ClusterDaemons : public ::testing::Test {
 protected:
  void TearDown() override {
    // All told first, then awaited: the daemons stop side by side, not one after another.
    for (std::size_t i = 0; i < daemons_.size(); ++i) {
      if (killed_.count(i) == 0) daemons_[i]->signal(SIGTERM);
    }
    for (std::size_t i = 0; i < daemons_.size(); ++i) {
      if (killed_.count(i) != 0) continue;
      EXPECT_EQ(daemons_[i]->wait_exit(20s), 0) << "daemon " << i << " did not stop cleanly";
    }
    if (HasFailure()) {
      for (const auto& log : logs_) std::printf("---- %s\n%s", log.c_str(), read_file(log).c_str());
    }
  }

  /// The environment of a daemon in this cluster, named `node`.
  Env cluster_env(const std::string& node) const {
    Env env = daemon_test_env(dir_.file(node + ".db"));
    env["DB_URL"] = db_url_;
    env["REDIS_URL"] = redis_.url();
    env["NODE_ID"] = node;
    return env;
  }

  /// Starts a daemon and returns once it listens, has registered its heartbeat and answers
  /// /readyz with 200 (Redis up): before that a CreateRoom could meet `unavailable`.
  std::uint16_t start_daemon(const std::string& node, const Env& extra = {}) {
    Env env = cluster_env(node);
    for (const auto& [k, v] : extra) env[k] = v;
    // A restarted node logs to a file of its own: the log is read for its registration.
    logs_.push_back(dir_.file(node + "-" + std::to_string(logs_.size()) + ".log"));
    daemons_.push_back(
        std::make_unique<DaemonProcess>(std::vector<std::string>{}, env, logs_.back()));
    std::uint16_t port = daemons_.back()->wait_listening();
    if (port == 0) throw std::runtime_error(node + " did not listen: " + read_file(logs_.back()));
    if (!eventually(
            [&] {
              return read_file(logs_.back()).find("cluster node registered") != std::string::npos;
            },
            20s) ||
        !await_readyz(port, 200)) {
      throw std::runtime_error(node + " did not join the cluster: " + read_file(logs_.back()));
    }
    ports_.push_back(port);
    return port;
  }

  /// Three daemons, node-1 to node-3, one after another (the first applies the migrations).
  void start_three(const Env& extra = {}) {
    for (int i = 1; i <= 3; ++i) start_daemon("node-" + std::to_string(i), extra);
  }

  /// Stops daemon `i` with SIGTERM, as a rolling restart does, and waits for it to exit 0.
  void stop_daemon(std::size_t i) {
    daemons_[i]->signal(SIGTERM);
    EXPECT_EQ(daemons_[i]->wait_exit(20s), 0) << "daemon " << i << " did not stop cleanly";
    killed_.insert(i);
  }

  std::uint16_t port(std::size_t i) const { return ports_.at(i); }

  /// Waits until each of the first three daemons answers /readyz with `status` (a failure
  /// for each that does not within `timeout`); how long that took, from now.
  std::chrono::milliseconds all_readyz(int status, std::chrono::milliseconds timeout) {
    auto from = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(await_readyz(port(i), status, timeout))
          << "daemon " << i << " does not answer /readyz with " << status;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 from);
  }

  TempDir dir_;
  RedisServer redis_;
  std::string db_url_ = fresh_postgres_database();
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;  // after redis_: stopped before it
  std::vector<std::string> logs_;
  std::vector<std::uint16_t> ports_;
  std::set<std::size_t> killed_;  // daemons a test killed: not stopped again
};

// --- 1. Startup

TEST_F(ClusterDaemons, RedisWithSqliteIsRefusedInOneLine) {
  Env env = daemon_test_env(dir_.file("alone.db"));
  env["REDIS_URL"] = redis_.url();
  std::string log = dir_.file("refused.log");
  DaemonProcess d({}, env, log);
  auto status = d.wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(*status, 0);
  std::string text = read_file(log);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 0) << text;
  EXPECT_NE(text.find("redis_url"), std::string::npos) << text;
  EXPECT_NE(text.find("db_url"), std::string::npos) << text;
  EXPECT_EQ(d.stdout_text().find("listening on"), std::string::npos);
}

TEST_F(ClusterDaemons, ASecondDaemonWithALiveNodeIdStops) {
  std::uint16_t first = start_daemon("twin");
  std::string log = dir_.file("twin-2.log");
  logs_.push_back(log);
  DaemonProcess second({}, cluster_env("twin"), log);
  auto status = second.wait_exit();
  ASSERT_TRUE(status.has_value()) << "the second daemon with NODE_ID twin is still running";
  EXPECT_EQ(*status, 1) << "a daemon that could not serve exits non-zero";
  EXPECT_NE(read_file(log).find("another live daemon has this node id"), std::string::npos);
  EXPECT_EQ(read_file(log).find("cluster node registered"), std::string::npos);
  // The first is untouched: ready, and its users are served.
  EXPECT_TRUE(await_readyz(first, 200, 2s));
  auto alice = connect_user(first, "alice");
  alice->ws.send_json({{"msg_type", kCreate}});
  alice->ws.expect(kCreated);
}

// --- 2. Users on different daemons meet

TEST_F(ClusterDaemons, UsersOnThreeDaemonsMeetRelayInOrderAndHandTheHostOver) {
  start_three();
  auto a = connect_user(port(0), "alice");
  auto b = connect_user(port(1), "bob");
  auto c = connect_user(port(2), "carol");
  auto d = connect_user(port(2), "dave");  // connected, in no room

  a->ws.send_json({{"msg_type", kCreate}});
  auto created = a->ws.expect(kCreated);
  std::string room = created["payload"]["room_id"];
  EXPECT_EQ(created["payload"]["host"], a->id());

  b->ws.send_json(room_message(kJoin, room));
  auto joined_b = b->ws.expect(kJoined)["payload"];
  EXPECT_EQ(joined_b,
            json({{"room_id", room}, {"host", a->id()}, {"members", {a->id(), b->id()}}}));
  EXPECT_EQ(a->ws.expect(kPeerJoined)["payload"], json({{"room_id", room}, {"user_id", b->id()}}));

  c->ws.send_json(room_message(kJoin, room));
  auto joined_c = c->ws.expect(kJoined)["payload"];
  EXPECT_EQ(joined_c["members"], json({a->id(), b->id(), c->id()}));
  EXPECT_EQ(joined_c["host"], a->id());
  for (auto* u : {a.get(), b.get()}) {
    EXPECT_EQ(u->ws.expect(kPeerJoined)["payload"],
              json({{"room_id", room}, {"user_id", c->id()}}));
  }

  // 200 numbered relays, SDP and ICE mixed, from daemon 1 to daemon 2: in order, from set.
  constexpr int kRelays = 200;
  for (int n = 0; n < kRelays; ++n) {
    ASSERT_TRUE(a->ws.send_json(n % 2 ? ice_to(b->id(), room, n) : sdp_to(b->id(), room, n)));
  }
  for (int n = 0; n < kRelays; ++n) {
    auto m = b->ws.expect(n % 2 ? kIce : kSdp);
    ASSERT_EQ(m["payload"]["n"], n) << "relay out of order";
    EXPECT_EQ(m["from"], a->id());
    EXPECT_EQ(m["to"], b->id());
  }
  // The other way, daemon 3 to daemon 1; and the relay rules across daemons.
  c->ws.send_json(sdp_to(a->id(), room, -1));
  auto back = a->ws.expect(kSdp);
  EXPECT_EQ(back["from"], c->id());
  EXPECT_EQ(back["payload"]["sdp"], json({{"type", "offer"}, {"sdp", "v=0"}}));
  a->ws.send_json(ice_to(d->id(), room, -2));
  EXPECT_EQ(a->ws.expect(kError)["payload"]["code"], "peer_not_in_room");
  d->ws.send_json(ice_to(a->id(), room, -3));
  EXPECT_EQ(d->ws.expect(kError)["payload"]["code"], "not_in_room");

  // Ready on daemon 2 reaches daemons 1 and 3.
  b->ws.send_json(room_message(kReady, room));
  for (auto* u : {a.get(), c.get()}) {
    EXPECT_EQ(u->ws.expect(kPeerReady)["payload"], json({{"room_id", room}, {"user_id", b->id()}}));
  }

  // The host (daemon 1) leaves: the next in join order (daemon 2) is host, for everyone.
  a->ws.send_json(room_message(kLeave, room));
  for (auto* u : {b.get(), c.get()}) {
    EXPECT_EQ(u->ws.expect(kPeerLeft)["payload"],
              json({{"room_id", room}, {"user_id", a->id()}, {"host", b->id()}}));
  }
  // Then bob leaves by disconnecting: carol is host.
  b->ws.close();
  EXPECT_EQ(c->ws.expect(kPeerLeft)["payload"],
            json({{"room_id", room}, {"user_id", b->id()}, {"host", c->id()}}));
  EXPECT_EQ(c->ws.pending(), 0u);
}

// --- 3. Replacement across daemons

TEST_F(ClusterDaemons, AConnectionOnAnotherDaemonReplacesTheFirst) {
  start_three();
  auto u = connect_user(port(0), "ursula");
  auto v = connect_user(port(1), "victor");
  std::string room = make_room(*v, {u.get()});

  WsClient second;
  auto welcome = second.connect_with_key(port(1), u->account.api_key);
  EXPECT_EQ(welcome["payload"]["user_id"], u->id());
  EXPECT_EQ(u->ws.wait_closed(), 4002);
  EXPECT_EQ(v->ws.expect(kPeerLeft)["payload"],
            json({{"room_id", room}, {"user_id", u->id()}, {"host", v->id()}}));

  // The new connection starts in no room, and works: it joins again on its own daemon.
  second.send_json(ice_to(v->id(), room, 1));
  EXPECT_EQ(second.expect(kError)["payload"]["code"], "not_in_room");
  second.send_json(room_message(kJoin, room));
  EXPECT_EQ(second.expect(kJoined)["payload"]["members"], json({v->id(), u->id()}));
  EXPECT_EQ(v->ws.expect(kPeerJoined)["payload"]["user_id"], u->id());

  // And once more, from daemon 3: the connection on daemon 2 is the one closed now.
  WsClient third;
  third.connect_with_key(port(2), u->account.api_key);
  EXPECT_EQ(second.wait_closed(), 4002);
  EXPECT_EQ(v->ws.expect(kPeerLeft)["payload"]["user_id"], u->id());
}

// --- 4. Key revocation across daemons

TEST_F(ClusterDaemons, RegenerateOnOneDaemonClosesTheKeysSocketOnAnother) {
  start_three();
  auto u = connect_user(port(1), "ursula");
  auto r =
      http_post_json(port(0), "/regenerate", {{"Username", "ursula"}, {"Password", kPassword}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string fresh = r.json_body.value("api_key", "");
  EXPECT_NE(fresh, u->account.api_key);
  EXPECT_EQ(u->ws.wait_closed(), 4001);
  // The old key opens nothing on any daemon; the new one does.
  WsClient old_key, new_key;
  EXPECT_EQ(old_key.connect(port(2), "/ws", {{"X-API-Key", u->account.api_key}}), 401);
  EXPECT_EQ(new_key.connect(port(2), "/ws", {{"X-API-Key", fresh}}), 101);
}

// --- 5. The admin API sees and acts on the whole cluster

TEST_F(ClusterDaemons, TheAdminApiOfAnyDaemonActsOnTheWholeCluster) {
  start_three({{"ADMIN_TOKEN", kAdminToken}});
  auto a = connect_user(port(0), "alice");
  auto b = connect_user(port(1), "bob");
  auto c = connect_user(port(2), "carol");
  std::string room = make_room(*a, {c.get()});

  auto list = admin(port(2), "GET", "/admin/rooms");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json_body["rooms"].size(), 1u) << list.body;
  EXPECT_EQ(list.json_body["rooms"][0]["room_id"], room);
  EXPECT_EQ(list.json_body["rooms"][0]["members"], 2);
  EXPECT_EQ(list.json_body["rooms"][0]["host"], a->id());
  auto detail = admin(port(1), "GET", "/admin/rooms/" + room);
  ASSERT_EQ(detail.status, 200) << detail.body;
  EXPECT_EQ(detail.json_body["members"], json({a->id(), c->id()}));

  auto closed = admin(port(1), "DELETE", "/admin/rooms/" + room, json{{"reason", "over"}}.dump());
  ASSERT_EQ(closed.status, 200) << closed.body;
  for (auto* u : {a.get(), c.get()}) {
    auto m = u->ws.expect(kRoomClosed);
    EXPECT_EQ(m["from"], 0);
    EXPECT_EQ(m["payload"], json({{"room_id", room}, {"reason", "over"}}));
  }
  EXPECT_EQ(admin(port(0), "GET", "/admin/rooms/" + room).status, 404);
  c->ws.send_json(room_message(kJoin, room));
  EXPECT_EQ(c->ws.expect(kError)["payload"]["code"], "room_not_found");

  auto off = admin(port(0), "POST", "/admin/users/" + std::to_string(b->id()) + "/disconnect");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(b->ws.wait_closed(), 4003);
  EXPECT_EQ(a->ws.pending() + c->ws.pending(), 0u);
}

// --- 6. A daemon killed with kill -9

TEST_F(ClusterDaemons, AKilledDaemonsUsersLeaveTheirRoomsOnTheOthers) {
  constexpr int kNodeTtl = 2;
  start_three({{"NODE_TTL", std::to_string(kNodeTtl)}});
  auto a = connect_user(port(0), "alice");
  auto b = connect_user(port(1), "bob");
  auto c = connect_user(port(2), "carol");
  std::string room = make_room(*a, {b.get(), c.get()});
  // A second room that alice only joined: her departure hands nothing over there.
  std::string other = make_room(*c, {a.get()});

  daemons_[0]->signal(SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(daemons_[0]->wait_exit(), 128 + SIGKILL);
  killed_.insert(0);

  // Bounded at 3 x NODE_TTL: noticed within NODE_TTL and a heartbeat (docs/cluster.md).
  auto left = b->ws.expect(kPeerLeft, std::chrono::seconds(3 * kNodeTtl));
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::printf("kill -9 to PeerLeft on another daemon: %lld ms (NODE_TTL %d s)\n",
              static_cast<long long>(delay.count()), kNodeTtl);
  EXPECT_EQ(left["payload"], json({{"room_id", room}, {"user_id", a->id()}, {"host", b->id()}}));
  // Carol hears of both rooms, each once (in alice's order of entry).
  EXPECT_EQ(c->ws.expect(kPeerLeft, 2s)["payload"],
            json({{"room_id", room}, {"user_id", a->id()}, {"host", b->id()}}));
  EXPECT_EQ(c->ws.expect(kPeerLeft, 2s)["payload"],
            json({{"room_id", other}, {"user_id", a->id()}, {"host", c->id()}}));

  // The survivors go on: the room is theirs, bob the host.
  c->ws.send_json(sdp_to(b->id(), room, 7));
  EXPECT_EQ(b->ws.expect(kSdp)["payload"]["n"], 7);
  // Alice, back on a live daemon, starts in no room.
  auto again = std::make_unique<WsClient>();
  again->connect_with_key(port(2), a->account.api_key);
  again->send_json(room_message(kJoin, room));
  EXPECT_EQ(again->expect(kJoined)["payload"]["members"], json({b->id(), c->id(), a->id()}));
}

// --- 7. Redis stopped and started again

TEST_F(ClusterDaemons, ARedisOutageKeepsSocketsOpenAndRecoversWithoutARestart) {
  start_three();
  auto a = connect_user(port(0), "alice");
  auto b = connect_user(port(1), "bob");
  auto x = connect_user(port(0), "xavier");  // the load: relays from daemon 1 to daemon 3
  auto y = connect_user(port(2), "yvonne");
  std::string load_room = make_room(*x, {y.get()});
  make_room(*a, {b.get()});

  constexpr int kLoad = 300;
  for (int n = 0; n < kLoad; ++n) x->ws.send_json(ice_to(y->id(), load_room, n));
  redis_.stop();  // SIGKILL, while the relays are on their way
  std::printf("Redis killed to /readyz 503 on all three daemons: %lld ms\n",
              static_cast<long long>(all_readyz(503, 10s).count()));
  a->ws.send_json({{"msg_type", kCreate}});
  auto error = a->ws.expect(kError);
  EXPECT_EQ(error["payload"]["code"], "unavailable");
  EXPECT_EQ(error["payload"]["msg_type"], kCreate);

  redis_.start();  // empty: rooms and presence are gone; the daemons claim their users again
  std::printf("Redis restarted to /readyz 200 on all three daemons: %lld ms\n",
              static_cast<long long>(all_readyz(200, 20s).count()));

  // Every socket stayed open, and the cluster works across daemons again.
  a->ws.send_json({{"msg_type", kCreate}});
  std::string room = a->ws.expect(kCreated)["payload"]["room_id"];
  b->ws.send_json(room_message(kJoin, room));
  EXPECT_EQ(b->ws.expect(kJoined)["payload"]["members"], json({a->id(), b->id()}));
  EXPECT_EQ(a->ws.expect(kPeerJoined)["payload"]["user_id"], b->id());
  y->ws.send_json(room_message(kJoin, room));
  // y may still hold relays of the load that got through before Redis died.
  EXPECT_EQ(expect_skipping(y->ws, kJoined, kIce)["payload"]["members"],
            json({a->id(), b->id(), y->id()}));
  b->ws.send_json(sdp_to(y->id(), room, 1));
  EXPECT_EQ(y->ws.expect(kSdp)["payload"]["n"], 1);
  // x's relays that met the outage were answered with `unavailable`, none with a close.
  x->ws.send_json(room_message(kJoin, room));
  EXPECT_EQ(expect_skipping(x->ws, kJoined, kError)["payload"]["members"].size(), 4u);
}

// --- 8. Concurrent joins across daemons

TEST_F(ClusterDaemons, RacingJoinsOnThreeDaemonsNeverOverfillARoom) {
  start_three({{"ADMIN_TOKEN", kAdminToken}});
  auto host = connect_user(port(0), "host");
  host->ws.send_json({{"msg_type", kCreate}, {"payload", {{"max_members", 16}}}});
  std::string room = host->ws.expect(kCreated)["payload"]["room_id"];

  constexpr int kRacers = 20;
  std::vector<std::unique_ptr<ConnectedUser>> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.push_back(
        connect_user(port(static_cast<std::size_t>(i % 3)), "racer" + std::to_string(i)));
  }
  for (auto& r : racers) r->ws.send(room_message(kJoin, room).dump());

  // Each racer's answer: RoomJoined or room_full, and nothing of the room before it. (A later
  // racer's PeerJoined once overtook the joiner's own RoomJoined: the answer came on the
  // daemon's command connection to Redis, the PeerJoined on its subscriber connection. Both
  // now come through the node's inbox, in the order Redis ran the joins.)
  int joined = 0, full = 0, early_peer_joined = 0;
  for (auto& r : racers) {
    std::optional<json> m;
    for (int skipped = 0; skipped <= kRacers; ++skipped) {
      m = r->ws.next();
      ASSERT_TRUE(m.has_value()) << "racer " << r->id() << " got no answer";
      if ((*m)["msg_type"] != kPeerJoined) break;
      ++early_peer_joined;
    }
    if ((*m)["msg_type"] == kJoined) {
      ++joined;
      EXPECT_LE((*m)["payload"]["members"].size(), 16u);
    } else {
      EXPECT_EQ((*m)["msg_type"], kError) << m->dump();
      EXPECT_EQ((*m)["payload"]["code"], "room_full") << m->dump();
      ++full;
    }
  }
  EXPECT_EQ(early_peer_joined, 0) << "a PeerJoined overtook the joiner's own RoomJoined";
  // The host is the first of the 16 members: 15 of the 20 get in.
  EXPECT_EQ(joined, 15);
  EXPECT_EQ(full, kRacers - 15);
  for (int i = 0; i < 15; ++i) host->ws.expect(kPeerJoined);
  auto detail = admin(port(2), "GET", "/admin/rooms/" + room);
  ASSERT_EQ(detail.status, 200) << detail.body;
  EXPECT_EQ(detail.json_body["members"].size(), 16u);
  EXPECT_EQ(host->ws.pending(), 0u);
}

// --- 8. Sessions that move between daemons (protocol.md 6, docs/cluster.md)

/// The resume query for `c`'s session from where it stands.
std::string resume_target(const std::string& session, std::uint64_t last_seq) {
  return "/ws?resume=" + session + "&last_seq=" + std::to_string(last_seq);
}

/// The next message that `c` receives, which must be of type `type`.
json expect_next(ResumingClient& c, int type) {
  auto m = c.next();
  if (!m) {
    ADD_FAILURE() << "nothing came, expected type " << type;
    return json();
  }
  EXPECT_EQ((*m)["msg_type"], type) << m->dump();
  return *m;
}

TEST_F(ClusterDaemons, ALostConnectionResumesOnAnotherDaemonWithNothingLostAndUnseenByTheRoom) {
  start_daemon("node-1");
  start_daemon("node-2");
  CuttingProxy proxy(port(0));
  ResumingClient alice(proxy.port(), register_user(port(0), "alice"));
  auto bob = connect_user(port(1), "bob");
  ASSERT_FALSE(alice.connect().is_null());
  std::uint64_t alice_id = alice.account().user_id;
  bob->ws.send_json({{"msg_type", kCreate}, {"payload", json::object()}});
  std::string room = bob->ws.expect(kCreated)["payload"]["room_id"];
  alice.send(room_message(kJoin, room));
  expect_next(alice, kJoined);
  bob->ws.expect(kPeerJoined);
  bob->ws.send_json(ice_to(alice_id, room, 0));
  EXPECT_EQ(expect_next(alice, kIce)["payload"]["n"], 0);

  // Cut without a close frame; what bob sends meanwhile goes to daemon 1, where the session
  // waits (or, once daemon 2 asked for it, to Redis): none of it may be lost.
  ASSERT_EQ(proxy.cut_all(), 1u);
  for (int n = 1; n <= 3; ++n) bob->ws.send_json(ice_to(alice_id, room, n));

  alice.set_port(port(1));
  json welcome = alice.resume();
  ASSERT_FALSE(welcome.is_null());
  EXPECT_EQ(welcome["payload"]["resumed"], true) << welcome.dump();
  EXPECT_EQ(welcome["payload"]["ack"], 1);
  EXPECT_EQ(
      welcome["payload"]["rooms"],
      json::array({{{"room_id", room}, {"host", bob->id()}, {"members", {bob->id(), alice_id}}}}));
  for (int n = 1; n <= 3; ++n) EXPECT_EQ(expect_next(alice, kIce)["payload"]["n"], n);
  // Bob saw nothing of it: his next message is alice's, from her new daemon.
  alice.send(ice_to(bob->id(), room, 4));
  EXPECT_EQ(bob->ws.expect(kIce)["payload"]["n"], 4);
  bob->ws.send_json(ice_to(alice_id, room, 5));
  EXPECT_EQ(expect_next(alice, kIce)["payload"]["n"], 5);

  // And back to daemon 1 while the connection on daemon 2 is open: that one closes with 4002.
  WsClient again;
  ASSERT_EQ(again.connect(port(0), resume_target(alice.session(), alice.last_seq()),
                          {{"X-API-Key", alice.account().api_key}}),
            101);
  auto w = again.expect(12);
  EXPECT_EQ(w["payload"]["resumed"], true) << w.dump();
  EXPECT_EQ(w["payload"]["session"], alice.session());
  EXPECT_EQ(alice.ws().wait_closed(), 4002);
  bob->ws.send_json(ice_to(alice_id, room, 6));
  auto six = again.expect(kIce);
  EXPECT_EQ(six["payload"]["n"], 6);
  EXPECT_EQ(six["seq"], alice.last_seq() + 1);
  EXPECT_EQ(bob->ws.pending(), 0u);
}

TEST_F(ClusterDaemons, SigtermHandsSessionsOverWith1012AndTheyResumeElsewhereWithNothingLost) {
  start_daemon("node-1");
  start_daemon("node-2");
  ResumingClient alice(port(0), register_user(port(0), "alice"));
  ResumingClient carol(port(0), register_user(port(0), "carol"));
  auto bob = connect_user(port(1), "bob");
  ASSERT_FALSE(alice.connect().is_null());
  ASSERT_FALSE(carol.connect().is_null());
  std::uint64_t alice_id = alice.account().user_id, carol_id = carol.account().user_id;
  bob->ws.send_json({{"msg_type", kCreate}, {"payload", json::object()}});
  std::string room = bob->ws.expect(kCreated)["payload"]["room_id"];
  for (ResumingClient* c : {&alice, &carol}) {
    c->send(room_message(kJoin, room));
    expect_next(*c, kJoined);
    bob->ws.expect(kPeerJoined);
  }
  expect_next(alice, kPeerJoined);  // carol's

  stop_daemon(0);
  EXPECT_EQ(alice.ws().wait_closed(), 1012);
  EXPECT_EQ(carol.ws().wait_closed(), 1012);
  // Parked in Redis now: what bob sends waits there for them.
  for (int n = 1; n <= 3; ++n) {
    bob->ws.send_json(ice_to(alice_id, room, n));
    bob->ws.send_json(ice_to(carol_id, room, n));
  }
  for (ResumingClient* c : {&alice, &carol}) {
    c->set_port(port(1));
    json welcome = c->resume();
    ASSERT_FALSE(welcome.is_null());
    EXPECT_EQ(welcome["payload"]["resumed"], true) << welcome.dump();
    EXPECT_EQ(welcome["payload"]["ack"], 1);
    EXPECT_EQ(welcome["payload"]["rooms"][0]["members"], json({bob->id(), alice_id, carol_id}));
    for (int n = 1; n <= 3; ++n) EXPECT_EQ(expect_next(*c, kIce)["payload"]["n"], n);
  }
  // Nobody left, nobody joined: bob's next message is alice's.
  alice.send(ice_to(bob->id(), room, 9));
  EXPECT_EQ(bob->ws.expect(kIce)["payload"]["n"], 9);
  carol.send(ice_to(alice_id, room, 10));
  EXPECT_EQ(expect_next(alice, kIce)["payload"]["n"], 10);
  EXPECT_EQ(read_file(logs_[0]).find("not all handed over"), std::string::npos);
}

TEST_F(ClusterDaemons, AParkedSessionEndsWhenDisconnectedOverflowingOrAtTheEndOfItsWindow) {
  Env short_window{{"RESUME_WINDOW", "4"}, {"RESUME_BUFFER", "4"}, {"ADMIN_TOKEN", kAdminToken}};
  start_daemon("node-1", short_window);
  start_daemon("node-2", short_window);
  auto alice = connect_user(port(0), "alice");
  auto carol = connect_user(port(0), "carol");
  auto dave = connect_user(port(0), "dave");
  auto bob = connect_user(port(1), "bob");
  std::string room = make_room(*bob, {alice.get(), carol.get(), dave.get()});
  stop_daemon(0);
  for (auto* u : {alice.get(), carol.get(), dave.get()}) EXPECT_EQ(u->ws.wait_closed(), 1012);
  auto left = [&](ConnectedUser& who) {
    return json({{"room_id", room}, {"user_id", who.id()}, {"host", bob->id()}});
  };

  // Parked, alice is still online (as a detached session is on one daemon), in her room.
  auto parked = admin(port(1), "GET", "/admin/users/" + std::to_string(alice->id()));
  ASSERT_EQ(parked.status, 200) << parked.body;
  EXPECT_EQ(parked.json_body["online"], true) << parked.body;
  EXPECT_EQ(parked.json_body["rooms"].size(), 1u) << parked.body;

  // An administrator's disconnect ends a parked session at the next sweep.
  auto off = admin(port(1), "POST", "/admin/users/" + std::to_string(dave->id()) + "/disconnect");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.json_body["disconnected"], true) << off.body;
  EXPECT_EQ(bob->ws.expect(kPeerLeft, 5s)["payload"], left(*dave));
  // Five for carol's parked session, which keeps four: it ends at once (the next sweep),
  // before alice's, which ends with its window four seconds after the hand-over.
  for (int n = 1; n <= 5; ++n) bob->ws.send_json(ice_to(carol->id(), room, n));
  EXPECT_EQ(bob->ws.expect(kPeerLeft, 5s)["payload"], left(*carol));
  EXPECT_EQ(bob->ws.expect(kPeerLeft, 8s)["payload"], left(*alice));
  auto gone = admin(port(1), "GET", "/admin/users/" + std::to_string(alice->id()));
  EXPECT_EQ(gone.json_body["online"], false) << gone.body;

  // Any of their resumes now finds nothing: a fresh session, in no room.
  for (auto* u : {alice.get(), carol.get(), dave.get()}) {
    WsClient again;
    ASSERT_EQ(again.connect(port(1), resume_target(u->welcome["payload"]["session"], 0),
                            {{"X-API-Key", u->account.api_key}}),
              101);
    auto w = again.expect(12);
    EXPECT_EQ(w["payload"]["resumed"], false) << w.dump();
    EXPECT_EQ(w["payload"].value("rooms", json::array()), json::array());
  }
}

TEST_F(ClusterDaemons, AResumeOfAnotherUsersOrARevokedKeysSessionOnAnotherDaemonIsFresh) {
  start_daemon("node-1");
  start_daemon("node-2");
  auto alice = connect_user(port(0), "alice");
  auto bob = connect_user(port(0), "bob");
  std::string room = make_room(*alice, {bob.get()});
  std::string session = alice->welcome["payload"]["session"];

  // Carol presents alice's session on daemon 2: a fresh session of her own; alice untouched.
  auto carol = register_user(port(1), "carol");
  WsClient stranger;
  ASSERT_EQ(stranger.connect(port(1), resume_target(session, 0), {{"X-API-Key", carol.api_key}}),
            101);
  auto w = stranger.expect(12);
  EXPECT_EQ(w["payload"]["resumed"], false);
  EXPECT_EQ(w["payload"]["user_id"], carol.user_id);
  EXPECT_NE(w["payload"]["session"], session);
  bob->ws.send_json(ice_to(alice->id(), room, 1));
  EXPECT_EQ(alice->ws.expect(kIce)["payload"]["n"], 1);

  // Alice's daemon stops: her session is parked. Her key is regenerated meanwhile: the
  // parked session ends (bob sees her leave), and the new key's resume is a fresh session.
  stop_daemon(0);
  EXPECT_EQ(alice->ws.wait_closed(), 1012);
  auto r = http_post_json(port(1), "/regenerate", {{"Username", "alice"}, {"Password", kPassword}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(bob->ws.wait_closed(), 1012);  // bob was on daemon 1 too: he resumes below
  WsClient bob_again;
  ASSERT_EQ(bob_again.connect(port(1), resume_target(bob->welcome["payload"]["session"], 1),
                              {{"X-API-Key", bob->account.api_key}}),
            101);
  EXPECT_EQ(bob_again.expect(12)["payload"]["resumed"], true);
  EXPECT_EQ(bob_again.expect(kPeerLeft, 5s)["payload"]["user_id"], alice->id());
  WsClient renewed;
  ASSERT_EQ(renewed.connect(port(1), resume_target(session, 1),
                            {{"X-API-Key", r.json_body.value("api_key", "")}}),
            101);
  EXPECT_EQ(renewed.expect(12)["payload"]["resumed"], false);
}

// --- 9. A rolling restart during a call of three

/// The live daemons' ports, which clients come back to; read from the clients' threads.
class LivePorts {
 public:
  void set(std::vector<std::uint16_t> ports) {
    std::lock_guard lock(mutex_);
    ports_ = std::move(ports);
  }
  void remove(std::uint16_t port) {
    std::lock_guard lock(mutex_);
    std::erase(ports_, port);
  }
  void add(std::uint16_t port) {
    std::lock_guard lock(mutex_);
    ports_.push_back(port);
  }
  /// A live port other than `not_this` when there is one.
  std::uint16_t pick(std::uint16_t not_this, std::size_t turn) {
    std::lock_guard lock(mutex_);
    std::vector<std::uint16_t> others;
    for (auto p : ports_) {
      if (p != not_this) others.push_back(p);
    }
    if (others.empty()) return ports_.empty() ? not_this : ports_.front();
    return others[turn % others.size()];
  }

 private:
  std::mutex mutex_;
  std::vector<std::uint16_t> ports_;
};

constexpr int kParties = 3;

/// One member of the call: sends ICE candidates to the others in turn, each numbered per
/// target ("n"), and checks that what it receives comes from each sender numbered 0, 1, 2, ...
/// (ResumingClient checks the server's seq). Anything else it receives is a problem.
struct Party {
  ResumingClient client;
  std::uint16_t port;
  std::vector<std::uint64_t> ids;  // every party's user id, by index
  int me = 0;
  std::string room;
  std::atomic<int> sent[kParties] = {};
  std::atomic<int> received[kParties] = {};
  int resumes = 0;
  std::vector<std::string> problems;

  Party(std::uint16_t p, Registered account) : client(p, std::move(account)), port(p) {}

  void receive_for(std::chrono::milliseconds timeout) {
    while (auto m = client.next(timeout)) {
      timeout = 0ms;
      if ((*m)["msg_type"] != kIce) {
        problems.push_back("unexpected " + m->dump());
        continue;
      }
      auto from = std::find(ids.begin(), ids.end(), (*m)["from"].get<std::uint64_t>());
      int i = static_cast<int>(from - ids.begin());
      if (from == ids.end() || i == me) {
        problems.push_back("from nobody in the call: " + m->dump());
        continue;
      }
      int n = (*m)["payload"]["n"];
      if (n != received[i]) {
        problems.push_back("from " + std::to_string(i) + " expected " +
                           std::to_string(received[i]) + ", got " + std::to_string(n));
      }
      ++received[i];
    }
  }

  /// After a 1012 (or any loss): resumes on a live daemon; false if it could not.
  bool come_back(LivePorts& live) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      port = live.pick(port, static_cast<std::size_t>(me + attempt));
      client.set_port(port);
      json welcome = client.resume();
      if (welcome.is_null()) {
        // That daemon is stopping (503) or gone: another one, shortly.
        std::this_thread::sleep_for(50ms);
        continue;
      }
      ++resumes;
      if (welcome["payload"].value("resumed", false)) return true;
      problems.push_back("not resumed: " + welcome.dump());
      return false;
    }
    problems.push_back("could not come back");
    return false;
  }
};

TEST_F(ClusterDaemons, ARollingRestartOfEveryDaemonDropsNoMessageOfACallOfThree) {
  start_three({{"RATE_LIMIT_PER_SEC", "100000"}, {"RATE_LIMIT_BURST", "100000"}});
  LivePorts live;
  live.set({port(0), port(1), port(2)});
  std::vector<std::unique_ptr<Party>> parties;
  for (int i = 0; i < kParties; ++i) {
    auto account = register_user(port(i), "party" + std::to_string(i));
    parties.push_back(std::make_unique<Party>(port(i), account));
  }
  std::vector<std::uint64_t> ids;
  for (auto& p : parties) {
    ASSERT_FALSE(p->client.connect().is_null());
    ids.push_back(p->client.account().user_id);
  }
  // A room of the three, one on each daemon.
  parties[0]->client.send({{"msg_type", kCreate}, {"payload", json::object()}});
  std::string room = expect_next(parties[0]->client, kCreated)["payload"]["room_id"];
  for (int i = 1; i < kParties; ++i) {
    parties[i]->client.send(room_message(kJoin, room));
    expect_next(parties[i]->client, kJoined);
    for (int j = 0; j < i; ++j) expect_next(parties[j]->client, kPeerJoined);
  }
  for (int i = 0; i < kParties; ++i) {
    parties[i]->ids = ids;
    parties[i]->me = i;
    parties[i]->room = room;
  }

  std::atomic<bool> keep_sending{true};
  std::atomic<bool> finished{false};
  auto deadline = std::chrono::steady_clock::now() + 90s;
  auto drive = [&](Party& me) {
    int turn = 0;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
      if (me.client.lost() && !me.come_back(live)) return;
      bool sending = keep_sending;
      if (sending) {
        int to = (me.me + 1 + turn++ % (kParties - 1)) % kParties;
        me.client.send(ice_to(me.ids[to], me.room, me.sent[to]));
        ++me.sent[to];
      }
      me.receive_for(sending ? 2ms : 20ms);
    }
  };
  std::vector<std::thread> threads;
  for (auto& p : parties) threads.emplace_back([&, p = p.get()] { drive(*p); });

  // Each daemon in turn: stopped with SIGTERM mid-call (its users resume on the others), then
  // started again under the same NODE_ID, before the next one goes.
  for (std::size_t i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(300ms);  // a load pattern, not a synchronisation
    std::uint16_t old_port = port(i);
    live.remove(old_port);
    stop_daemon(i);
    live.add(start_daemon("node-" + std::to_string(i + 1),
                          {{"RATE_LIMIT_PER_SEC", "100000"}, {"RATE_LIMIT_BURST", "100000"}}));
  }
  std::this_thread::sleep_for(300ms);
  keep_sending = false;
  // Done when every party has received everything each other party sent.
  auto everything_arrived = [&] {
    for (int i = 0; i < kParties; ++i) {
      for (int j = 0; j < kParties; ++j) {
        if (i != j && parties[j]->received[i] != parties[i]->sent[j]) return false;
      }
    }
    return true;
  };
  bool complete = eventually(everything_arrived, 30s);
  finished = true;
  for (auto& t : threads) t.join();

  EXPECT_TRUE(complete) << "not every message arrived";
  int resumes = 0, total = 0;
  for (int i = 0; i < kParties; ++i) {
    for (const auto& p : parties[i]->problems) ADD_FAILURE() << "party " << i << ": " << p;
    resumes += parties[i]->resumes;
    for (int j = 0; j < kParties; ++j) {
      if (i == j) continue;
      EXPECT_EQ(parties[j]->received[i].load(), parties[i]->sent[j].load())
          << "from party " << i << " to party " << j;
      total += parties[i]->sent[j];
    }
  }
  // Every party was on a stopped daemon at least once (each daemon had one).
  EXPECT_GE(resumes, kParties);
  std::printf("rolling restart: %d messages, %d resumes, none lost or repeated\n", total, resumes);
}

}  // namespace
}  // namespace switchboard::test
