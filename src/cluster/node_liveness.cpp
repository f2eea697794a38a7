#include "switchboard/cluster/node_liveness.hpp"

#include "switchboard/cluster/redis_keys.hpp"
#include "switchboard/cluster/redis_script.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <charconv>

namespace switchboard {

namespace {

namespace asio = boost::asio;

// Every check and its write are one script, so that two nodes racing (or a node coming back
// while another reaps it) see one order of events. Each answers an integer.

// Refreshes a key's PX only while it holds the value we set: our heartbeat (the token), or a
// reaper's lock (its node id). KEYS: key. ARGV: value, ttl ms. 1 refreshed, 0 not ours.
const RedisScript kRefresh(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua");

// KEYS: node key, sb:nodes, node's users, reaper lock. ARGV: token, ttl ms, node id.
// -1: the key exists (a live daemon with this id); -2: another node is reaping our earlier
// incarnation; else registered, and the number of users left by an earlier incarnation
// (when > 0 we now hold the reaper lock on ourselves).
const RedisScript kRegister(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local stale = redis.call('SCARD', KEYS[3])
if stale > 0 then redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2]) end
return stale
)lua");

// KEYS: dead node's key, sb:nodes, its reaper lock. ARGV: its id, our id, ttl ms.
// 1: the node has no key, is still to be reaped, and the lock is now ours.
const RedisScript kClaim(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
return 1
)lua");

// After the dead-node handler: its users are gone; the node leaves sb:nodes unless it is
// alive (our own earlier incarnation, reaped by ourselves at registration); the lock goes if
// still ours. KEYS: node key, sb:nodes, node's users, reaper lock. ARGV: its id, our id.
const RedisScript kCleanup(R"lua(
redis.call('DEL', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
if redis.call('GET', KEYS[4]) == ARGV[2] then redis.call('DEL', KEYS[4]) end
return 1
)lua");

// KEYS: node key, sb:nodes, node's users. ARGV: token, node id. The key goes if it is ours;
// the id leaves sb:nodes unless another daemon holds it now, or users are left to reap.
// 1: deregistered; 0: left in sb:nodes.
const RedisScript kDeregister(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[3]) > 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
)lua");

using namespace redis_keys;

using Integer = Result<long long, RedisError>;

/// Runs a script (run_script); a reply other than an integer is an error value.
void eval(const std::shared_ptr<RedisClient>& redis, const RedisScript& script,
          std::vector<std::string> keys, std::vector<std::string> args,
          std::function<void(Integer)> done) {
  run_script(
      redis, script, std::move(keys), std::move(args),
      [done = std::move(done)](RedisClient::Reply r) {
        if (!r.ok()) return done(r.error());
        if (r.value().type != RedisReply::Type::integer) {
          return done(RedisError{RedisError::Code::unavailable,
                                 "unexpected reply from a liveness script: " + r.value().str});
        }
        done(r.value().integer);
      });
}

std::string random_token() {
  return random_hex(16);
}

NodeLivenessError unavailable(const RedisError& e) {
  return {NodeLivenessError::Code::unavailable, "Redis: " + e.message};
}

}  // namespace

std::shared_ptr<NodeLiveness> NodeLiveness::create(std::shared_ptr<RedisClient> redis,
                                                   std::string node_id,
                                                   std::chrono::milliseconds ttl,
                                                   Handlers handlers) {
  return std::make_shared<NodeLiveness>(Private{}, std::move(redis), std::move(node_id), ttl,
                                        std::move(handlers));
}

NodeLiveness::NodeLiveness(Private, std::shared_ptr<RedisClient> redis, std::string node_id,
                           std::chrono::milliseconds ttl, Handlers handlers)
    : redis_(std::move(redis)),
      node_id_(std::move(node_id)),
      ttl_(ttl),
      handlers_(std::move(handlers)),
      timer_(redis_->executor()) {
  for (const RedisScript* script : {&kRefresh, &kRegister, &kClaim, &kCleanup, &kDeregister}) {
    redis_->preload_script(script->source);
  }
}

// The timer's destructor cancels it; its handler holds a weak reference and finds nothing.
NodeLiveness::~NodeLiveness() = default;

void NodeLiveness::start(Done done) {
  asio::post(redis_->executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->state_ != State::idle) {
      return done(NodeLivenessError{NodeLivenessError::Code::already_started, "already started"});
    }
    // ':' would let one node's key name another's (node "a:users" and node "a").
    if (self->node_id_.empty() || self->node_id_.find(':') != std::string::npos) {
      self->state_ = State::stopped;
      return done(NodeLivenessError{NodeLivenessError::Code::invalid_id,
                                    "NODE_ID must be non-empty and without ':'"});
    }
    self->state_ = State::starting;
    self->start_done_ = std::move(done);
    self->tick();
    self->try_register();
  });
}

void NodeLiveness::stop(Done done) {
  asio::post(redis_->executor(), [self = shared_from_this(), done = std::move(done)] {
    const bool was_started = self->state_ != State::idle;
    self->finish_start(
        NodeLivenessError{NodeLivenessError::Code::stopped, "stopped before it was registered"});
    self->halt();
    if (!was_started) return done(Unit{});
    // Sent after any registration still in flight (one connection keeps the order), and
    // token_ is already the one that registration sets: it is deleted too.
    eval(self->redis_, kDeregister,
         {node_key(self->node_id_), kNodes, node_users_key(self->node_id_)},
         {self->token_, self->node_id_}, [done](Integer r) {
           if (!r.ok()) return done(unavailable(r.error()));
           done(Unit{});
         });
  });
}

void NodeLiveness::halt() {
  state_ = State::stopped;
  timer_.cancel();
}

void NodeLiveness::tick() {
  timer_.expires_after(std::max(ttl_ / 3, std::chrono::milliseconds(1)));
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_tick();
  });
}

void NodeLiveness::on_tick() {
  if (state_ == State::stopped) return;
  tick();
  switch (state_) {
    case State::starting:  // waiting for another node to finish reaping our predecessor
    case State::lost:
      try_register();
      break;
    case State::registered:
      heartbeat();
      sweep();
      break;
    default:
      break;
  }
  // A dead-node handler may take longer than the lock's ttl: hold the lock while it runs.
  for (const auto& node : reaping_) {
    eval(redis_, kRefresh, {reap_lock_key(node)}, {node_id_, std::to_string(ttl_.count())},
         [](Integer) {});
  }
}

void NodeLiveness::try_register() {
  if (register_in_flight_) return;
  register_in_flight_ = true;
  // Set before the answer, so that a stop() meanwhile deletes what this registers.
  token_ = random_token();
  eval(redis_, kRegister,
       {node_key(node_id_), kNodes, node_users_key(node_id_), reap_lock_key(node_id_)},
       {token_, std::to_string(ttl_.count()), node_id_}, [weak = weak_from_this()](Integer r) {
         auto self = weak.lock();
         if (!self) return;
         self->register_in_flight_ = false;
         if (self->state_ != State::starting && self->state_ != State::lost) return;
         const bool first = self->state_ == State::starting;
         if (!r.ok()) {
           // At start the caller decides (retry, or refuse to run); after a lapse, next tick.
           if (first) self->finish_start(unavailable(r.error()));
           return;
         }
         if (r.value() == -1) {
           if (first) {
             self->finish_start(
                 NodeLivenessError{NodeLivenessError::Code::in_use,
                                   "NODE_ID " + self->node_id_ + " is in use by a live daemon"});
           }
           return;
         }
         if (r.value() == -2) return;  // someone reaps our predecessor: next tick
         self->registered_with(r.value());
       });
}

void NodeLiveness::registered_with(long long stale_users) {
  state_ = State::registered;
  if (stale_users == 0) return finish_start(Unit{});
  // Users of an earlier incarnation that nobody reaped: the register script gave us the lock.
  claiming_.insert(node_id_);
  reap(node_id_);
}

void NodeLiveness::heartbeat() {
  if (heartbeat_in_flight_) return;
  heartbeat_in_flight_ = true;
  eval(redis_, kRefresh, {node_key(node_id_)}, {token_, std::to_string(ttl_.count())},
       [weak = weak_from_this(), token = token_](Integer r) {
         auto self = weak.lock();
         if (!self) return;
         self->heartbeat_in_flight_ = false;
         // Redis down or slow: nothing is known, try again next tick.
         if (!r.ok() || r.value() == 1) return;
         if (self->state_ != State::registered || self->token_ != token) return;
         self->state_ = State::lost;
         if (self->handlers_.on_lost) self->handlers_.on_lost();
         if (self->state_ == State::lost) self->try_register();
       });
}

void NodeLiveness::sweep() {
  if (sweep_in_flight_) return;
  sweep_in_flight_ = true;
  redis_->command({"SMEMBERS", kNodes}, [weak = weak_from_this()](RedisClient::Reply r) {
    auto self = weak.lock();
    if (!self) return;
    self->sweep_in_flight_ = false;
    if (!r.ok() || r.value().type != RedisReply::Type::array) return;
    if (self->state_ != State::registered) return;
    for (const auto& member : r.value().elements) {
      if (member.str != self->node_id_ && !self->claiming_.contains(member.str)) {
        self->claim(member.str);
      }
    }
  });
}

void NodeLiveness::claim(const std::string& node) {
  claiming_.insert(node);
  eval(redis_, kClaim, {node_key(node), kNodes, reap_lock_key(node)},
       {node, node_id_, std::to_string(ttl_.count())}, [weak = weak_from_this(), node](Integer r) {
         auto self = weak.lock();
         if (!self) return;
         // Stopped meanwhile with the lock won: it expires, and another node reaps.
         if (!r.ok() || r.value() != 1 || self->state_ == State::stopped) {
           self->claiming_.erase(node);
           return;
         }
         self->reap(node);
       });
}

void NodeLiveness::reap(const std::string& node) {
  reaping_.insert(node);
  redis_->command({"SMEMBERS", node_users_key(node)}, [weak = weak_from_this(),
                                                       node](RedisClient::Reply r) {
    auto self = weak.lock();
    if (!self) return;
    if (!r.ok() || r.value().type != RedisReply::Type::array || self->state_ == State::stopped) {
      // The lock expires, and the node is reaped again at a later sweep.
      return self->reaped(node, false);
    }
    std::vector<UserId> users;
    for (const auto& member : r.value().elements) {
      const std::string& s = member.str;
      UserId u = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
      if (ec == std::errc() && end == s.data() + s.size()) users.push_back(u);
    }
    // Holds what the cleanup needs, not the node: it may be called after we are gone.
    auto once = std::make_shared<std::atomic<bool>>(false);
    std::function<void()> finished = [redis = self->redis_, me = self->node_id_, node, weak, once] {
      if (once->exchange(true)) return;
      eval(redis, kCleanup, {node_key(node), kNodes, node_users_key(node), reap_lock_key(node)},
           {node, me}, [weak, node](Integer done) {
             if (auto s = weak.lock()) s->reaped(node, done.ok());
           });
    };
    if (self->handlers_.on_dead) {
      self->handlers_.on_dead(node, std::move(users), std::move(finished));
    } else {
      finished();
    }
  });
}

void NodeLiveness::reaped(const std::string& node, bool cleaned) {
  claiming_.erase(node);
  reaping_.erase(node);
  if (node != node_id_) return;
  if (cleaned) return finish_start(Unit{});
  finish_start(NodeLivenessError{NodeLivenessError::Code::unavailable,
                                 "Redis: could not reap the users of an earlier incarnation"});
}

void NodeLiveness::finish_start(Result<Unit, NodeLivenessError> result) {
  if (!start_done_) return;
  auto done = std::move(start_done_);
  start_done_ = nullptr;
  if (!result.ok()) halt();
  done(std::move(result));
}

}  // namespace switchboard
