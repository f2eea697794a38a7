#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// Why start() or stop() did not do what was asked.
struct NodeLivenessError {
  enum class Code {
    in_use,           // another live daemon holds sb:node:N (same NODE_ID)
    invalid_id,       // empty, or with ':' (which would let one node's keys name another's)
    unavailable,      // Redis could not be asked (the RedisError's message follows)
    stopped,          // stop() came before start() finished
    already_started,  // start() twice
  };
  Code code = Code::unavailable;
  std::string message;  // one line
};

/// A daemon's heartbeat in Redis, and the watch over the other daemons': which node is alive,
/// and who cleans up after one that died (kill -9, a lost machine, a heartbeat that lapsed).
///
/// Keys (docs/cluster.md):
/// - `sb:node:N`: a random token of this incarnation, PX = ttl, refreshed every ttl/3 by a
///   script that refreshes it only while it still holds our token;
/// - `sb:nodes`: the ids of nodes registered and not yet reaped;
/// - `sb:node:N:users`: the users connected to N (filled by others; read and deleted here
///   when N is reaped);
/// - `sb:reap:N`: the reaper's lock on N (SET NX PX ttl, holding the reaper's id; refreshed
///   while the reaper's handler runs).
///
/// Every ttl/3 the node also sweeps: for each other node in `sb:nodes` whose `sb:node:M` is
/// gone, a script takes `sb:reap:M` (only while M is still in the set and has no key), and
/// the one node that got it calls on_dead with M's users. A dead node is so reaped within
/// ttl + ttl/3 (plus a round trip) of its last heartbeat.
///
/// Everything runs on the client's strand: no thread of its own, no blocking call. While
/// Redis is down the timer keeps ticking and the commands fail, nothing else; when Redis
/// answers again and our key is gone (it expired, or a restarted Redis lost it), that is a
/// lost heartbeat: on_lost, then a new registration.
///
/// Create with create(), then start(). Dropping the last reference without stop() is a
/// crash as the others see it (the key expires after ttl and they reap the node); it must
/// happen on the client's strand or while its io_context is not running. No handler runs
/// once the node is stopped or gone.
class NodeLiveness : public std::enable_shared_from_this<NodeLiveness> {
 public:
  using Done = std::function<void(Result<Unit, NodeLivenessError>)>;
  /// Called once for every other node found dead (and for this node's own earlier
  /// incarnation, see start()), on the one node that won the reaper's lock. `users` is
  /// `sb:node:M:users` (members that are not user ids are skipped). The handler makes them
  /// leave their rooms, then calls `finished` (from any thread), which deletes M's users set,
  /// takes M out of `sb:nodes` and frees the lock. A `finished` never called (a crash
  /// mid-way) lets the lock expire, and M is reaped again, by whoever wins next.
  using DeadHandler = std::function<void(const std::string& node_id, std::vector<UserId> users,
                                         std::function<void()> finished)>;
  /// Our heartbeat lapsed: `sb:node:N` was gone or held another token when we refreshed it,
  /// so the others may have reaped our users. Called once per lapse; the daemon then
  /// closes its sessions (the clients resume), and the node registers again with a new
  /// token by itself.
  using LostHandler = std::function<void()>;

  struct Handlers {
    DeadHandler on_dead;  // none: a dead node's users are dropped with its keys
    LostHandler on_lost;
  };

  /// `redis`: a command connection (not a subscriber), started by the caller. `node_id`:
  /// NODE_ID, non-empty. `ttl`: NODE_TTL; heartbeats and sweeps every ttl/3.
  static std::shared_ptr<NodeLiveness> create(std::shared_ptr<RedisClient> redis,
                                              std::string node_id, std::chrono::milliseconds ttl,
                                              Handlers handlers);
  ~NodeLiveness();
  NodeLiveness(const NodeLiveness&) = delete;
  NodeLiveness& operator=(const NodeLiveness&) = delete;

  /// Registers: SET `sb:node:N` token PX ttl and SADD `sb:nodes` N, unless `sb:node:N`
  /// exists (a live daemon with the same NODE_ID, or our own predecessor killed less than
  /// ttl ago): then `done` gets Code::in_use and nothing is registered. When
  /// `sb:node:N:users` still holds users of an earlier incarnation that nobody reaped, they
  /// are reaped here first (on_dead(N, ...)) before `done`. While another node is reaping
  /// that earlier incarnation, registration waits for it. If Redis cannot be asked, `done`
  /// gets Code::unavailable and the node stops (whatever was registered expires).
  void start(Done done);

  /// Graceful deregistration (SIGTERM): stops the timers, deletes `sb:node:N` if it holds our
  /// token and takes N out of `sb:nodes`. The caller empties `sb:node:N:users` first (its
  /// users leave their rooms or are handed over); users still in it are left for the other
  /// nodes, which reap N at their next sweep like a dead node. No handler runs afterwards.
  void stop(Done done);

  const std::string& node_id() const { return node_id_; }
  /// This incarnation's token (empty before the first registration; new after a lapse).
  /// On the strand.
  const std::string& token() const { return token_; }
  /// Whether our key was set by the last registration and no lapse was seen since. On the
  /// strand.
  bool registered() const { return state_ == State::registered; }

  // Public for make_shared; use create().
  struct Private {};
  NodeLiveness(Private, std::shared_ptr<RedisClient> redis, std::string node_id,
               std::chrono::milliseconds ttl, Handlers handlers);

 private:
  enum class State { idle, starting, registered, lost, stopped };

  void tick();
  void on_tick();
  void try_register();
  void registered_with(long long stale_users);
  void heartbeat();
  void sweep();
  void claim(const std::string& node);
  void reap(const std::string& node);
  void reaped(const std::string& node, bool cleaned);
  void finish_start(Result<Unit, NodeLivenessError> result);
  void halt();

  std::shared_ptr<RedisClient> redis_;
  std::string node_id_;
  std::chrono::milliseconds ttl_;
  Handlers handlers_;
  boost::asio::steady_timer timer_;  // ticks every ttl/3 from start() to stop()

  State state_ = State::idle;
  std::string token_;
  Done start_done_;                  // until the first registration (and its reaping) is over
  bool register_in_flight_ = false;  // one command of each kind at a time, however slow Redis
  bool heartbeat_in_flight_ = false;
  bool sweep_in_flight_ = false;
  std::set<std::string> claiming_;  // claim sent or lock held: not claimed again
  std::set<std::string> reaping_;   // lock held, handler running: the lock is refreshed
};

}  // namespace switchboard
