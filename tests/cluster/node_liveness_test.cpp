// NodeLiveness against a real redis-server of the test's own: registration and deregistration,
// a NODE_ID held by a live daemon, the users of an earlier incarnation, a node killed among
// three (one reaper, within ttl + ttl/3), a lapsed heartbeat (key deleted, Redis restarted),
// and a stopped node that stays quiet. Everything runs on the test thread's io_context, run
// until the awaited event or a bound.
#include "switchboard/cluster/node_liveness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <iostream>
#include <optional>
#include <set>

#include "support/redis_server.hpp"

namespace switchboard {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::RedisServer;

constexpr std::chrono::milliseconds kTtl = 300ms;
constexpr std::chrono::milliseconds kWait = 5s;  // bound on every wait; a passing test waits less

using Outcome = Result<Unit, NodeLivenessError>;

struct Death {
  std::string node;
  std::vector<UserId> users;  // sorted
};

/// What one node's handlers were called with.
struct Seen {
  std::vector<Death> deaths;
  int lost = 0;
  bool hold = false;  // keep `finished` instead of calling it at once
  std::vector<std::function<void()>> unfinished;
};

struct Node {
  std::shared_ptr<NodeLiveness> liveness;
  std::shared_ptr<Seen> seen;
  NodeLiveness* operator->() const { return liveness.get(); }
};

class NodeLivenessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : clients_) c->stop();
    clients_.clear();
    guard_.reset();
    // Every timer and command ends once the clients are stopped and the nodes gone.
    io_.run_for(kWait);
    EXPECT_TRUE(io_.stopped()) << "io_context still had work after every client stopped";
  }

  std::shared_ptr<RedisClient> connect() {
    RedisClientOptions options;
    options.endpoint = parse_redis_url(server_.url()).value();
    options.reconnect_min = 20ms;
    options.reconnect_max = 100ms;
    options.command_timeout = 1s;
    auto client = RedisClient::create(io_.get_executor(), options);
    auto up = std::make_shared<bool>(false);
    client->on_state([up](bool is_up, const std::string&) { *up = is_up; });
    client->start();
    EXPECT_TRUE(run_until([&] { return *up; })) << "Redis client never came up";
    clients_.push_back(client);
    return client;
  }

  Node node(const std::string& id, bool hold = false) {
    Node n{nullptr, std::make_shared<Seen>()};
    n.seen->hold = hold;
    NodeLiveness::Handlers handlers;
    handlers.on_dead = [seen = n.seen](const std::string& dead, std::vector<UserId> users,
                                       std::function<void()> finished) {
      std::sort(users.begin(), users.end());
      seen->deaths.push_back({dead, std::move(users)});
      if (seen->hold) {
        seen->unfinished.push_back(std::move(finished));
      } else {
        finished();
      }
    };
    handlers.on_lost = [seen = n.seen] { ++seen->lost; };
    n.liveness = NodeLiveness::create(connect(), id, kTtl, std::move(handlers));
    return n;
  }

  /// Runs the io_context until `pred` holds; false after `timeout`.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_one_until(deadline);
    }
    return true;
  }

  /// Lets the nodes tick for `d` (the duration is what is under test, not a synchronisation).
  void run_for(std::chrono::milliseconds d) { io_.run_for(d); }

  Outcome start(Node& n) {
    std::optional<Outcome> done;
    n->start([&done](Outcome r) { done.emplace(std::move(r)); });
    if (!run_until([&] { return done.has_value(); })) {
      return NodeLivenessError{NodeLivenessError::Code::unavailable, "test: start never ended"};
    }
    return *done;
  }

  Outcome stop(Node& n) {
    std::optional<Outcome> done;
    n->stop([&done](Outcome r) { done.emplace(std::move(r)); });
    if (!run_until([&] { return done.has_value(); })) {
      return NodeLivenessError{NodeLivenessError::Code::unavailable, "test: stop never ended"};
    }
    return *done;
  }

  /// A command on the test's own connection, retried while that connection is down (after
  /// a Redis restart).
  RedisReply redis(std::vector<std::string> args) {
    if (!admin_) admin_ = connect();
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<RedisClient::Reply> reply;
      admin_->command(args, [&reply](RedisClient::Reply r) { reply.emplace(std::move(r)); });
      run_until([&] { return reply.has_value(); });
      if (reply && reply->ok()) return reply->value();
      run_for(20ms);
    }
    ADD_FAILURE() << "no answer to " << args[0];
    return {};
  }
  std::string get(const std::string& key) {
    auto r = redis({"GET", key});
    return r.is_nil() ? "(nil)" : r.str;
  }
  bool exists(const std::string& key) { return redis({"EXISTS", key}).integer == 1; }
  std::set<std::string> members(const std::string& key) {
    std::set<std::string> out;
    for (const auto& e : redis({"SMEMBERS", key}).elements) out.insert(e.str);
    return out;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  RedisServer server_;
  std::vector<std::shared_ptr<RedisClient>> clients_;
  std::shared_ptr<RedisClient> admin_;
};

TEST_F(NodeLivenessTest, RegistersRefreshesAndDeregistersItsKeys) {
  auto a = node("a");
  ASSERT_TRUE(start(a).ok());
  EXPECT_TRUE(a->registered());
  const std::string token = a->token();
  EXPECT_EQ(token.size(), 32U);
  EXPECT_EQ(get("sb:node:a"), token);
  auto pttl = redis({"PTTL", "sb:node:a"}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, kTtl.count());
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"a"});
  EXPECT_FALSE(exists("sb:reap:a"));

  // Half a ttl past its expiry the key is still there: the heartbeat refreshed it.
  run_for(kTtl + kTtl / 2);
  EXPECT_EQ(get("sb:node:a"), token);
  EXPECT_EQ(a.seen->lost, 0);

  auto stopped = stop(a);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message;
  EXPECT_FALSE(exists("sb:node:a"));
  EXPECT_TRUE(members("sb:nodes").empty());
  // No heartbeat after stop() puts the key back.
  run_for(kTtl);
  EXPECT_FALSE(exists("sb:node:a"));
  EXPECT_TRUE(members("sb:nodes").empty());
}

TEST_F(NodeLivenessTest, RefusesANodeIdHeldByALiveDaemonAndAMalformedOne) {
  auto first = node("a");
  ASSERT_TRUE(start(first).ok());
  auto second = node("a");
  auto refused = start(second);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, NodeLivenessError::Code::in_use);
  EXPECT_EQ(refused.error().message, "NODE_ID a is in use by a live daemon");
  EXPECT_FALSE(second->registered());

  // The refused one does not retry; the first keeps its key and notices nothing.
  run_for(kTtl);
  EXPECT_EQ(get("sb:node:a"), first->token());
  EXPECT_TRUE(first->registered());
  EXPECT_EQ(first.seen->lost, 0);
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"a"});

  for (std::string bad : {"", "a:users"}) {
    auto n = node(bad);
    auto r = start(n);
    ASSERT_FALSE(r.ok()) << "'" << bad << "'";
    EXPECT_EQ(r.error().code, NodeLivenessError::Code::invalid_id) << "'" << bad << "'";
  }
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"a"});
}

TEST_F(NodeLivenessTest, ReapsTheUsersOfAnEarlierIncarnationBeforeItIsReady) {
  // An incarnation of "a" killed, its key expired, and no other node to reap it.
  redis({"SADD", "sb:nodes", "a"});
  redis({"SADD", "sb:node:a:users", "7", "8"});

  auto a = node("a", /*hold=*/true);
  std::optional<Outcome> done;
  a->start([&done](Outcome r) { done.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return !a.seen->deaths.empty(); }));
  EXPECT_EQ(a.seen->deaths[0].node, "a");
  EXPECT_EQ(a.seen->deaths[0].users, (std::vector<UserId>{7, 8}));
  EXPECT_FALSE(done.has_value()) << "ready before its predecessor's users were reaped";
  EXPECT_EQ(get("sb:reap:a"), "a");

  // The handler takes longer than the ttl: the node's key and the reaper's lock both live.
  run_for(kTtl + kTtl / 2);
  EXPECT_FALSE(done.has_value());
  EXPECT_EQ(get("sb:reap:a"), "a");
  EXPECT_EQ(get("sb:node:a"), a->token());

  ASSERT_EQ(a.seen->unfinished.size(), 1U);
  a.seen->unfinished[0]();
  ASSERT_TRUE(run_until([&] { return done.has_value(); }));
  ASSERT_TRUE(done->ok()) << done->error().message;
  EXPECT_FALSE(exists("sb:node:a:users"));
  EXPECT_FALSE(exists("sb:reap:a"));
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"a"});
  EXPECT_EQ(get("sb:node:a"), a->token());
  EXPECT_EQ(a.seen->deaths.size(), 1U);
}

TEST_F(NodeLivenessTest, ANodeKilledAmongThreeIsReapedOnceWithItsUsers) {
  // The reapers hold `finished`: while one reaps, the others keep sweeping a dead node
  // whose key is gone, and only the lock keeps them off it.
  auto a = node("a", /*hold=*/true);
  auto b = node("b", /*hold=*/true);
  auto c = node("c");
  ASSERT_TRUE(start(a).ok());
  ASSERT_TRUE(start(b).ok());
  ASSERT_TRUE(start(c).ok());
  redis({"SADD", "sb:node:c:users", "1", "2", "3"});

  // kill -9: no deregistration, no more heartbeats.
  const auto killed = std::chrono::steady_clock::now();
  c.liveness.reset();
  auto deaths = [&] { return a.seen->deaths.size() + b.seen->deaths.size(); };
  // Its key lives at most ttl after its last heartbeat; the others sweep every ttl/3. The
  // bound leaves one more ttl for a loaded machine.
  ASSERT_TRUE(run_until([&] { return deaths() >= 1; }, kTtl + kTtl / 3 + kTtl))
      << "not reaped within 2 ttl + ttl/3";
  std::cout << "[          ] reaped "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - killed)
                   .count()
            << " ms after the kill (ttl " << kTtl.count() << " ms)\n";
  Seen& reaper = a.seen->deaths.empty() ? *b.seen : *a.seen;
  ASSERT_EQ(reaper.deaths.size(), 1U);
  EXPECT_EQ(reaper.deaths[0].node, "c");
  EXPECT_EQ(reaper.deaths[0].users, (std::vector<UserId>{1, 2, 3}));

  // A slow handler: more than a ttl of sweeps by the other node, which must stay off.
  run_for(kTtl + kTtl / 2);
  EXPECT_EQ(deaths(), 1U);
  ASSERT_EQ(reaper.unfinished.size(), 1U);
  reaper.unfinished[0]();
  EXPECT_TRUE(run_until([&] { return !exists("sb:node:c:users") && !exists("sb:reap:c"); }));
  EXPECT_EQ(members("sb:nodes"), (std::set<std::string>{"a", "b"}));
  // And after: c is reaped for good.
  run_for(kTtl / 2);
  EXPECT_EQ(deaths(), 1U);

  for (Node* n : {&a, &b}) {
    EXPECT_TRUE((*n)->registered()) << (*n)->node_id();
    EXPECT_EQ(n->seen->lost, 0) << (*n)->node_id();
    EXPECT_EQ(get("sb:node:" + (*n)->node_id()), (*n)->token());
  }
}

TEST_F(NodeLivenessTest, AHeartbeatThatFindsItsKeyGoneCallsOnLostOnceAndRegistersAgain) {
  auto a = node("a");
  ASSERT_TRUE(start(a).ok());
  const std::string old = a->token();
  redis({"SADD", "sb:node:a:users", "4"});

  redis({"DEL", "sb:node:a"});
  ASSERT_TRUE(run_until([&] { return a.seen->lost > 0 && a->registered(); }));
  EXPECT_EQ(a.seen->lost, 1);
  EXPECT_NE(a->token(), old);
  EXPECT_EQ(get("sb:node:a"), a->token());
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"a"});
  // No other node reaped it: its users of before the lapse are reaped by itself.
  ASSERT_TRUE(run_until([&] { return !a.seen->deaths.empty(); }));
  EXPECT_EQ(a.seen->deaths[0].node, "a");
  EXPECT_EQ(a.seen->deaths[0].users, std::vector<UserId>{4});
  EXPECT_TRUE(run_until([&] { return !exists("sb:node:a:users"); }));

  run_for(kTtl);
  EXPECT_EQ(a.seen->lost, 1);
  EXPECT_EQ(a.seen->deaths.size(), 1U);
  EXPECT_EQ(get("sb:node:a"), a->token());
}

TEST_F(NodeLivenessTest, ARestartedRedisIsALapseForEveryNodeAndTheyRegisterAgain) {
  auto a = node("a");
  auto b = node("b");
  ASSERT_TRUE(start(a).ok());
  ASSERT_TRUE(start(b).ok());
  const std::string old_a = a->token();
  const std::string old_b = b->token();

  server_.stop();
  // A whole ttl without Redis: every command fails, the nodes keep ticking, nothing is known.
  run_for(kTtl);
  EXPECT_EQ(a.seen->lost, 0);
  EXPECT_EQ(b.seen->lost, 0);
  EXPECT_TRUE(a->registered());

  server_.start();  // empty: every key is gone
  ASSERT_TRUE(run_until(
      [&] { return a.seen->lost > 0 && b.seen->lost > 0 && a->registered() && b->registered(); }));
  EXPECT_EQ(a.seen->lost, 1);
  EXPECT_EQ(b.seen->lost, 1);
  EXPECT_NE(a->token(), old_a);
  EXPECT_NE(b->token(), old_b);
  EXPECT_EQ(get("sb:node:a"), a->token());
  EXPECT_EQ(get("sb:node:b"), b->token());
  EXPECT_EQ(members("sb:nodes"), (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(a.seen->deaths.empty());
  EXPECT_TRUE(b.seen->deaths.empty());
}

TEST_F(NodeLivenessTest, StopLeavesUsersStillThereToTheReapersAndNoHandlerRunsAfterwards) {
  auto a = node("a");
  auto b = node("b");
  ASSERT_TRUE(start(a).ok());
  ASSERT_TRUE(start(b).ok());
  redis({"SADD", "sb:node:a:users", "5"});

  auto stopped = stop(a);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message;
  EXPECT_FALSE(exists("sb:node:a"));
  // And a dead node that `a` would reap, were it still sweeping.
  redis({"SADD", "sb:nodes", "d"});
  redis({"SADD", "sb:node:d:users", "6"});

  ASSERT_TRUE(run_until([&] { return b.seen->deaths.size() >= 2; }, 2 * kTtl));
  run_for(kTtl);
  ASSERT_EQ(b.seen->deaths.size(), 2U);
  std::sort(b.seen->deaths.begin(), b.seen->deaths.end(),
            [](const Death& x, const Death& y) { return x.node < y.node; });
  EXPECT_EQ(b.seen->deaths[0].node, "a");
  EXPECT_EQ(b.seen->deaths[0].users, std::vector<UserId>{5});
  EXPECT_EQ(b.seen->deaths[1].node, "d");
  EXPECT_EQ(members("sb:nodes"), std::set<std::string>{"b"});

  // Its key was gone for a ttl and more, yet the stopped node said nothing and came not back.
  EXPECT_TRUE(a.seen->deaths.empty());
  EXPECT_EQ(a.seen->lost, 0);
  EXPECT_FALSE(a->registered());
  EXPECT_FALSE(exists("sb:node:a"));
}

TEST_F(NodeLivenessTest, StartWithoutRedisIsAnErrorAndRegistersNothing) {
  auto a = node("a");
  server_.stop();
  auto r = start(a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, NodeLivenessError::Code::unavailable);
  EXPECT_EQ(r.error().message.rfind("Redis: ", 0), 0U) << r.error().message;
  EXPECT_FALSE(a->registered());

  // Nor later, when Redis is back: a failed start is final.
  server_.start();
  run_for(kTtl);
  EXPECT_FALSE(exists("sb:node:a"));
  EXPECT_FALSE(a->registered());
}

}  // namespace
}  // namespace switchboard
