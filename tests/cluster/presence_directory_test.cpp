// Presence, relays and the nodes' inboxes against a real redis-server: two "nodes" here are
// two sets of clients with their own node ids, as two daemons would be.
#include "switchboard/cluster/presence_directory.hpp"

#include <gtest/gtest.h>

#include "support/redis_fixture.hpp"
#include "switchboard/cluster/node_mailbox.hpp"
#include "switchboard/cluster/redis_keys.hpp"
#include "switchboard/cluster/redis_room_directory.hpp"
#include "switchboard/cluster/redis_script.hpp"

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using test::await_answer;
using test::Inbox;

/// One daemon's view: its presence directory, and what its inbox received.
struct Node {
  std::string id;
  std::shared_ptr<RedisClient> commands;
  std::unique_ptr<PresenceDirectory> presence;
  std::unique_ptr<NodeMailbox> mailbox;
  std::shared_ptr<Inbox<ClusterEnvelope>> received = std::make_shared<Inbox<ClusterEnvelope>>();
  std::shared_ptr<Inbox<std::string>> bad = std::make_shared<Inbox<std::string>>();
  std::shared_ptr<Inbox<int>> subscribed = std::make_shared<Inbox<int>>();
  std::shared_ptr<Inbox<bool>> states = std::make_shared<Inbox<bool>>();  // after the first up
};

class PresenceTest : public test::RedisFixture {
 protected:
  Node node(const std::string& id) {
    Node n;
    n.id = id;
    n.commands = client(n.states);
    n.presence = std::make_unique<PresenceDirectory>(n.commands, id);
    n.mailbox = std::make_unique<NodeMailbox>(unstarted_client(), n.commands, id);
    n.mailbox->on_envelope([r = n.received](ClusterEnvelope e) { r->push(std::move(e)); });
    n.mailbox->on_bad_envelope([b = n.bad](std::size_t, const std::string& why) { b->push(why); });
    n.mailbox->on_subscribed([s = n.subscribed] { s->push(1); });
    n.mailbox->start();
    EXPECT_TRUE(n.subscribed->next().has_value()) << "the inbox was never subscribed";
    return n;
  }

  std::optional<PresenceHolder> claim(Node& n, UserId user, const std::string& conn) {
    auto r = await_answer<Result<std::optional<PresenceHolder>, RedisError>>(
        [&](auto done) { n.presence->claim(user, conn, "", "", std::move(done)); });
    if (!r.ok()) throw std::runtime_error(r.error().message);
    return r.value();
  }
  bool release(Node& n, UserId user, const std::string& conn) {
    auto r = await_answer<Result<bool, RedisError>>(
        [&](auto done) { n.presence->release(user, conn, std::move(done)); });
    if (!r.ok()) throw std::runtime_error(r.error().message);
    return r.value();
  }
  std::optional<SignalError> relay(Node& n, UserId from, UserId to, const std::string& room,
                                   const std::string& text) {
    auto r = await_answer<Result<std::optional<SignalError>, RedisError>>(
        [&](auto done) { n.presence->relay(from, to, room, text, std::move(done)); });
    if (!r.ok()) throw std::runtime_error(r.error().message);
    return r.value();
  }
  /// A room with `members` (the first creates it), made through the room scripts.
  std::string room_with(const std::vector<UserId>& members) {
    RedisRoomDirectory rooms(client(), RoomLimits{});
    using Joined = Result<RoomManager::Membership, RoomDirectoryError>;
    auto created = await_answer<Joined>(
        [&](auto done) { rooms.create(members.front(), std::nullopt, std::move(done)); });
    if (!created.ok()) throw std::runtime_error("create failed");
    for (std::size_t i = 1; i < members.size(); ++i) {
      auto joined = await_answer<Joined>(
          [&](auto done) { rooms.join(members[i], created.value().room_id, std::move(done)); });
      if (!joined.ok()) throw std::runtime_error("join failed");
    }
    return created.value().room_id;
  }
  /// `count` relays from 1 (on `a`) to 2 (on `b`), fired without waiting: they arrive at b
  /// in order and intact.
  void expect_relays_in_order(Node& a, Node& b, const std::string& room, int count) {
    auto answers = std::make_shared<Inbox<bool>>();  // each relay's "on its way"
    auto text = [](int i) { return "{\"seq\":" + std::to_string(i) + ",\"s\":\"\xc3\xa9\\n\"}\n"; };
    for (int i = 0; i < count; ++i) {
      a.presence->relay(1, 2, room, text(i),
                        [answers](Result<std::optional<SignalError>, RedisError> r) {
                          answers->push(r.ok() && !r.value());
                        });
    }
    for (int i = 0; i < count; ++i) {
      auto e = b.received->next();
      ASSERT_TRUE(e.has_value()) << "relay " << i << " never arrived";
      ASSERT_EQ(e->kind, ClusterEnvelope::Kind::deliver);
      ASSERT_EQ(e->to, std::vector<UserId>{2});
      ASSERT_EQ(e->text, text(i));
    }
    // A delivery may reach b before the sender hears its relay's answer: await each.
    for (int i = 0; i < count; ++i) ASSERT_EQ(answers->next(), std::optional<bool>(true)) << i;
  }
  std::vector<std::string> members_of_set(const std::string& key) {
    auto r = command(clients_.front(), {"SMEMBERS", key});
    std::vector<std::string> out;
    for (auto& e : r.elements) out.push_back(e.str);
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(PresenceTest, AClaimRecordsTheHolderAndTheNodesUsers) {
  Node a = node("a");
  EXPECT_FALSE(claim(a, 7, "c1").has_value());
  auto h = command(a.commands, {"HMGET", "sb:presence:7", "node", "conn"});
  ASSERT_EQ(h.elements.size(), 2u);
  EXPECT_EQ(h.elements[0].str, "a");
  EXPECT_EQ(h.elements[1].str, "c1");
  EXPECT_EQ(members_of_set("sb:node:a:users"), std::vector<std::string>{"7"});
  // A second connection on the same node: the old one is the caller's to close, no envelope.
  auto previous = claim(a, 7, "c2");
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->node, "a");
  EXPECT_EQ(previous->conn, "c1");
  EXPECT_FALSE(a.received->next(200ms).has_value());
}

TEST_F(PresenceTest, AClaimOnAnotherNodeTellsTheOldOneToReplaceItsConnection) {
  Node a = node("a");
  Node b = node("b");
  claim(a, 7, "c1");
  auto previous = claim(b, 7, "c9");
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->node, "a");
  auto told = a.received->next();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->kind, ClusterEnvelope::Kind::replace);
  EXPECT_EQ(told->user, 7u);
  EXPECT_EQ(told->conn, "c1");
  EXPECT_TRUE(members_of_set("sb:node:a:users").empty());
  EXPECT_EQ(members_of_set("sb:node:b:users"), std::vector<std::string>{"7"});
  EXPECT_FALSE(b.received->next(200ms).has_value()) << "the new holder is told nothing";
}

TEST_F(PresenceTest, OnlyTheCurrentConnectionReleasesThePresence) {
  Node a = node("a");
  Node b = node("b");
  claim(a, 7, "c1");
  claim(b, 7, "c2");
  // The replaced connection ends after the newer one claimed: nothing of the newer goes.
  EXPECT_FALSE(release(a, 7, "c1"));
  EXPECT_EQ(command(a.commands, {"HGET", "sb:presence:7", "node"}).str, "b");
  EXPECT_FALSE(release(a, 7, "c2")) << "another node cannot release b's connection";
  EXPECT_TRUE(release(b, 7, "c2"));
  EXPECT_TRUE(command(a.commands, {"EXISTS", "sb:presence:7"}).integer == 0);
  EXPECT_TRUE(members_of_set("sb:node:b:users").empty());
}

TEST_F(PresenceTest, RacingClaimsFromTwoNodesLeaveOneHolderAndTellTheOther) {
  Node a = node("a");
  Node b = node("b");
  constexpr UserId kUsers = 100;
  std::mutex mutex;
  std::map<UserId, int> claims_seeing_the_other;
  auto all = std::make_shared<std::promise<void>>();
  int answered = 0;
  for (UserId u = 1; u <= kUsers; ++u) {
    for (Node* n : {&a, &b}) {
      n->presence->claim(u, "conn-" + n->id, "", "",
                         [&, u, all](Result<std::optional<PresenceHolder>, RedisError> r) {
                           std::lock_guard lock(mutex);
                           ASSERT_TRUE(r.ok());
                           if (r.value().has_value()) ++claims_seeing_the_other[u];
                           if (++answered == 2 * kUsers) all->set_value();
                         });
    }
  }
  ASSERT_EQ(all->get_future().wait_for(test::kRedisWait), std::future_status::ready);
  // Each user: the later claim saw the earlier; the earlier node was told, exactly once.
  std::map<UserId, std::string> told;
  for (Node* n : {&a, &b}) {
    while (auto e = n->received->next(300ms)) {
      EXPECT_EQ(e->kind, ClusterEnvelope::Kind::replace);
      EXPECT_EQ(e->conn, "conn-" + n->id);
      EXPECT_TRUE(told.emplace(e->user, n->id).second) << "user " << e->user << " told twice";
    }
  }
  ASSERT_EQ(told.size(), kUsers);
  for (UserId u = 1; u <= kUsers; ++u) {
    EXPECT_EQ(claims_seeing_the_other[u], 1) << u;
    auto holder = command(a.commands, {"HGET", redis_keys::presence_key(u), "node"}).str;
    EXPECT_NE(holder, told[u]) << "user " << u << ": the node told to close still holds it";
  }
  EXPECT_EQ(members_of_set("sb:node:a:users").size() + members_of_set("sb:node:b:users").size(),
            kUsers);
}

TEST_F(PresenceTest, RelaysReachTheTargetsNodeInOrderAndBreakTheRulesAsRoomManagerDoes) {
  Node a = node("a");
  Node b = node("b");
  // The room first: its joins, made before anyone is connected, tell nobody.
  const std::string room = room_with({1, 2, 3});  // 3 is in the room, connected nowhere
  claim(a, 1, "c1");
  claim(b, 2, "c2");
  expect_relays_in_order(a, b, room, 1000);
  EXPECT_EQ(relay(a, 1, 2, "no-such-room", "x"), SignalError::room_not_found);
  EXPECT_EQ(relay(a, 4, 2, room, "x"), SignalError::not_in_room);
  EXPECT_EQ(relay(a, 1, 4, room, "x"), SignalError::peer_not_in_room);
  EXPECT_EQ(relay(a, 1, 3, room, "x"), SignalError::peer_not_in_room) << "3 is connected nowhere";
  release(b, 2, "c2");
  EXPECT_EQ(relay(a, 1, 2, room, "x"), SignalError::peer_not_in_room);
  EXPECT_FALSE(b.received->next(200ms).has_value()) << "a refused relay was delivered";
}

TEST_F(PresenceTest, FanOutSendsEachNodeItsShareOnce) {
  Node a = node("a");
  Node b = node("b");
  claim(a, 1, "c1");
  claim(a, 2, "c2");
  claim(b, 3, "c3");
  static const RedisScript kProbe(std::string(kFanoutLua) + R"lua(
sb_fanout(ARGV, {k = 'room', ev = 'peer_joined', room = 'r', user = '9'})
return 1
)lua");
  auto r = await_answer<RedisClient::Reply>([&](auto done) {
    run_script(a.commands, kProbe, {}, {"1", "2", "3", "4"}, std::move(done));
  });
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r.value().is_error()) << r.value().str;
  auto at_a = a.received->next();
  auto at_b = b.received->next();
  ASSERT_TRUE(at_a && at_b);
  EXPECT_EQ(at_a->type, MsgType::peer_joined);
  EXPECT_EQ(at_a->user, 9u);
  EXPECT_EQ(at_a->to, (std::vector<UserId>{1, 2}));
  EXPECT_EQ(at_b->to, std::vector<UserId>{3});
  EXPECT_FALSE(a.received->next(200ms).has_value());
  EXPECT_FALSE(b.received->next(1ms).has_value());
}

TEST_F(PresenceTest, TheMailboxDropsWhatDoesNotDecodeAndHearsBroadcasts) {
  Node a = node("a");
  Node b = node("b");
  command(a.commands, {"PUBLISH", "sb:inbox:a", "D x\ny"});
  ClusterEnvelope revoke;
  revoke.kind = ClusterEnvelope::Kind::revoke;
  revoke.user = 5;
  revoke.key_hash = "h";
  a.mailbox->post("a", revoke);
  auto why = a.bad->next();
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("recipient"), std::string::npos) << *why;
  auto after = a.received->next();
  ASSERT_TRUE(after.has_value()) << "a bad envelope stopped the mailbox";
  EXPECT_EQ(after->key_hash, "h");
  b.mailbox->broadcast(revoke);
  EXPECT_TRUE(a.received->next().has_value());
  EXPECT_TRUE(b.received->next().has_value());
}

TEST_F(PresenceTest, ScriptsAndSubscriptionsComeBackAfterARedisRestart) {
  Node a = node("a");
  Node b = node("b");
  server_.stop();
  server_.start();  // empty: no data, no script cache
  // Both inboxes are subscribed again (the owner is told: what was published meanwhile is
  // lost), and the scripts run again (EVALSHA -> NOSCRIPT -> EVAL).
  EXPECT_TRUE(a.subscribed->next().has_value());
  EXPECT_TRUE(b.subscribed->next().has_value());
  for (Node* n : {&a, &b}) {
    ASSERT_EQ(n->states->next(), std::optional<bool>(false));
    ASSERT_EQ(n->states->next(), std::optional<bool>(true));
  }
  EXPECT_FALSE(claim(a, 7, "c1").has_value());
  EXPECT_EQ(command(a.commands, {"HGET", "sb:presence:7", "node"}).str, "a");
  claim(b, 7, "c2");
  auto told = a.received->next();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->kind, ClusterEnvelope::Kind::replace);
  // The relay script was loaded again in the reconnect's handshake: pipelined relays never
  // meet NOSCRIPT, whose resend would put them out of order.
  const std::string room = room_with({1, 2});
  claim(a, 1, "c1");
  claim(b, 2, "c2");
  expect_relays_in_order(a, b, room, 300);
}

TEST_F(PresenceTest, PreloadedScriptsAreInRedisBeforeTheClientSaysItIsUp) {
  static const RedisScript kProbe("return 'probe'");
  auto states = std::make_shared<Inbox<bool>>();
  auto c = client(states);
  c->preload_script(kProbe.source);
  auto loaded = [&] {
    return command(c, {"SCRIPT", "EXISTS", kProbe.sha1}).elements.at(0).integer;
  };
  EXPECT_EQ(loaded(), 1);
  server_.stop();
  server_.start();  // an empty script cache
  ASSERT_EQ(states->next(), std::optional<bool>(false));
  ASSERT_EQ(states->next(), std::optional<bool>(true));
  // The first command after up finds it: it was loaded in the handshake.
  EXPECT_EQ(loaded(), 1);
}

TEST_F(PresenceTest, RoomScriptsTellTheOtherMembersNodesWhatChangedInOrder) {
  Node a = node("a");
  Node b = node("b");
  claim(a, 1, "c1");
  claim(b, 2, "c2");
  claim(b, 3, "c3");
  RedisRoomDirectory rooms(a.commands, RoomLimits{});
  using Joined = Result<RoomManager::Membership, RoomDirectoryError>;
  auto created =
      await_answer<Joined>([&](auto done) { rooms.create(1, std::nullopt, std::move(done)); });
  ASSERT_TRUE(created.ok());
  const std::string room = created.value().room_id;
  for (UserId u : {2, 3}) {
    ASSERT_TRUE(
        await_answer<Joined>([&](auto done) { rooms.join(u, room, std::move(done)); }).ok());
  }
  ASSERT_TRUE((await_answer<Result<std::vector<UserId>, RoomDirectoryError>>([&](auto done) {
                rooms.ready(2, room, std::move(done));
              })).ok());
  ASSERT_TRUE((await_answer<Result<RoomManager::Departure, RoomDirectoryError>>([&](auto done) {
                rooms.leave(1, room, std::move(done));
              })).ok());
  ASSERT_TRUE(
      (await_answer<Result<std::optional<std::vector<UserId>>, RoomDirectoryError>>([&](auto done) {
        rooms.close(room, "maintenance", std::move(done));
      })).ok());
  struct Seen {
    MsgType type;
    UserId user;
    std::vector<UserId> to;
    UserId host = 0;
    std::string reason;
  };
  auto expect = [](Inbox<ClusterEnvelope>& inbox, std::vector<Seen> want) {
    for (const auto& w : want) {
      auto e = inbox.next();
      ASSERT_TRUE(e.has_value()) << "missing event " << static_cast<int>(w.type);
      EXPECT_EQ(e->kind, ClusterEnvelope::Kind::room_event);
      EXPECT_EQ(e->type, w.type);
      EXPECT_EQ(e->user, w.user);
      EXPECT_EQ(e->to, w.to);
      EXPECT_EQ(e->host, w.host);
      EXPECT_EQ(e->reason, w.reason);
    }
    EXPECT_FALSE(inbox.next(200ms).has_value()) << "an event too many";
  };
  // a holds 1: it hears 2 and 3 join and 2 get ready (its own leave is its caller's).
  expect(*a.received, {{MsgType::peer_joined, 2, {1}, 0, ""},
                       {MsgType::peer_joined, 3, {1}, 0, ""},
                       {MsgType::peer_ready, 2, {1}, 0, ""}});
  // b holds 2 and 3: each joiner's own RoomJoined (host 1) comes through its node's inbox,
  // ahead of the room's next events; 3's join reaches 2 only, 2's Ready reaches 3 only, then 1
  // leaves (2 is host) and the room closes for both.
  expect(*b.received, {{MsgType::room_joined, 2, {2}, 1, ""},
                       {MsgType::room_joined, 3, {3}, 1, ""},
                       {MsgType::peer_joined, 3, {2}, 0, ""},
                       {MsgType::peer_ready, 2, {3}, 0, ""},
                       {MsgType::peer_left, 1, {2, 3}, 2, ""},
                       {MsgType::room_closed, 0, {2, 3}, 0, "maintenance"}});
}

TEST_F(PresenceTest, ARoomCommandOfAReplacedSessionIsFencedOff) {
  Node a = node("a");
  RedisRoomDirectory rooms(a.commands, RoomLimits{});
  using Joined = Result<RoomManager::Membership, RoomDirectoryError>;
  using Left = Result<RoomManager::Departure, RoomDirectoryError>;
  using Readied = Result<std::vector<UserId>, RoomDirectoryError>;
  auto fenced = [](const RoomDirectoryError& e) { return std::holds_alternative<Fenced>(e); };
  // User 1 is session "s-new" now; "s-old" is the connection it replaced.
  auto claimed = await_answer<Result<std::optional<PresenceHolder>, RedisError>>(
      [&](auto done) { a.presence->claim(1, "c2", "s-new", "k", std::move(done)); });
  ASSERT_TRUE(claimed.ok());
  auto created =
      await_answer<Joined>([&](auto done) { rooms.create(2, std::nullopt, std::move(done), ""); });
  ASSERT_TRUE(created.ok());
  const std::string room = created.value().room_id;

  auto stale =
      await_answer<Joined>([&](auto done) { rooms.join(1, room, std::move(done), "s-old"); });
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(fenced(stale.error()));
  auto stale_create = await_answer<Joined>(
      [&](auto done) { rooms.create(1, std::nullopt, std::move(done), "s-old"); });
  ASSERT_FALSE(stale_create.ok());
  EXPECT_TRUE(fenced(stale_create.error()));
  // Nothing happened for user 1: not in the room, in no room.
  auto detail = await_answer<Result<std::optional<RoomManager::Detail>, RoomDirectoryError>>(
      [&](auto done) { rooms.detail(room, std::move(done)); });
  ASSERT_TRUE(detail.ok() && detail.value().has_value());
  EXPECT_EQ(detail.value()->members, std::vector<UserId>{2});

  // The session that holds the presence acts; so does one that names no fence.
  ASSERT_TRUE(
      await_answer<Joined>([&](auto done) { rooms.join(1, room, std::move(done), "s-new"); }).ok());
  auto stale_ready =
      await_answer<Readied>([&](auto done) { rooms.ready(1, room, std::move(done), "s-old"); });
  ASSERT_FALSE(stale_ready.ok());
  EXPECT_TRUE(fenced(stale_ready.error()));
  auto stale_leave =
      await_answer<Left>([&](auto done) { rooms.leave(1, room, std::move(done), "s-old"); });
  ASSERT_FALSE(stale_leave.ok());
  EXPECT_TRUE(fenced(stale_leave.error()));
  EXPECT_TRUE(await_answer<Readied>([&](auto done) {
                rooms.ready(1, room, std::move(done), "s-new");
              }).ok());
  EXPECT_TRUE(
      await_answer<Left>([&](auto done) { rooms.leave(1, room, std::move(done), ""); }).ok());

  // A user with no presence at all (Redis restarted empty) is not fenced: the rules decide.
  EXPECT_TRUE(
      await_answer<Joined>([&](auto done) { rooms.join(3, room, std::move(done), "s-x"); }).ok());
}

}  // namespace
}  // namespace switchboard
