#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "switchboard/cluster/redis_reply.hpp"
#include "switchboard/cluster/redis_url.hpp"
#include "switchboard/util/result.hpp"

struct redisAsyncContext;

namespace switchboard {

class RedisAsioAdapter;

struct RedisClientOptions {
  RedisEndpoint endpoint;
  /// A command with no reply by then fails with RedisError::Code::timeout (the connection
  /// stays: a late reply is dropped).
  std::chrono::milliseconds command_timeout{2000};
  /// Resolve + TCP connect + AUTH/SELECT/PING must finish within this, or the attempt fails.
  std::chrono::milliseconds connect_timeout{2000};
  /// Reconnect delays double from min to max; each is drawn from [delay/2, delay] so that
  /// daemons that lost Redis together do not come back in step.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
};

/// A pub/sub delivery, or the confirmation of a (re)subscription.
struct RedisPubSubEvent {
  enum class Kind { subscribed, message };
  Kind kind = Kind::message;
  std::string pattern;  // set for PSUBSCRIBE deliveries and confirmations
  std::string channel;  // empty for a pattern confirmation
  std::string payload;
};

/// One non-blocking connection to Redis on an Asio executor, driven through hiredis's async
/// API: commands are queued by hiredis and so pipelined, replies come back as values on the
/// client's strand. The client keeps itself connected: when the connection is lost every
/// pending command fails at once with `unavailable`, new ones fail the same way while it is
/// down, and it reconnects with backoff and jitter, reporting each change of up/down.
///
/// A client that subscribes (subscribe/psubscribe) is a subscriber connection: Redis then
/// accepts only (un)subscribe commands on it, so use a second client for commands. Its
/// subscriptions are remembered and sent again after every reconnect.
///
/// Create with create(), configure the handlers, then start(). Callbacks run on the strand.
/// stop() (or dropping the last reference) fails what is pending and closes the connection.
class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  using Reply = Result<RedisReply, RedisError>;
  using Callback = std::function<void(Reply)>;
  /// up == false carries the reason (a one-line message without the password).
  using StateHandler = std::function<void(bool up, const std::string& reason)>;
  using MessageHandler = std::function<void(const RedisPubSubEvent&)>;

  static std::shared_ptr<RedisClient> create(boost::asio::any_io_executor executor,
                                             RedisClientOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Set before start().
  void on_state(StateHandler handler) { on_state_ = std::move(handler); }
  void on_message(MessageHandler handler) { on_message_ = std::move(handler); }

  void start();
  void stop();

  /// Sends `args` (the command and its arguments, binary-safe); `done` gets the reply or why
  /// there is none. Thread-safe; commands from one thread are sent in call order.
  void command(std::vector<std::string> args, Callback done);

  /// Loads `lua` (SCRIPT LOAD) now if up, and again in the handshake of every later
  /// connection, before the client reports up: EVALSHA then never meets NOSCRIPT after a
  /// Redis restart, whose fallback (resending with EVAL) would let pipelined scripts run out
  /// of order. Only a SCRIPT FLUSH mid-connection leaves that to the fallback.
  void preload_script(std::string lua);

  void subscribe(std::string channel);
  void psubscribe(std::string pattern);
  void unsubscribe(std::string channel);

  boost::asio::strand<boost::asio::any_io_executor> executor() const { return strand_; }

  // Public for make_shared; use create().
  struct Private {};
  RedisClient(Private, boost::asio::any_io_executor executor, RedisClientOptions options);

 private:
  enum class State { idle, connecting, up, waiting, stopped };
  struct Pending {
    Callback done;
    std::chrono::steady_clock::time_point deadline;
  };

  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);

  void connect();
  void open(const boost::asio::ip::tcp::endpoint& endpoint);
  void handshake();
  void became_up();
  /// Frees the hiredis context ourselves (never from inside a hiredis callback).
  void drop_connection(const std::string& reason);
  /// The connection is gone (hiredis freed it, or we did): fail, report, retry.
  void connection_lost(const std::string& reason);
  void schedule_reconnect();
  void send(const std::vector<std::string>& args, Callback done);
  void send_subscriptions(const char* verb, const std::set<std::string>& names);
  void complete(std::uint64_t id, Reply reply);
  void fail_all(const RedisError& error);
  void arm_timeout();
  void on_timeout();
  void report(bool up, const std::string& reason);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  RedisClientOptions options_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer phase_timer_;    // connect deadline, then reconnect delay
  boost::asio::steady_timer timeout_timer_;  // the oldest pending command's deadline
  StateHandler on_state_;
  MessageHandler on_message_;

  State state_ = State::idle;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<RedisAsioAdapter> adapter_;
  std::uint64_t connection_ = 0;  // counts connection attempts, to spot stale handlers
  std::uint64_t next_id_ = 1;     // 0 marks pub/sub deliveries
  // Ordered by id, which is send order; every command has the same timeout, so the first
  // entry always has the earliest deadline and one timer serves them all.
  std::map<std::uint64_t, Pending> pending_;
  std::set<std::string> channels_;
  std::set<std::string> patterns_;
  std::set<std::string> scripts_;
  std::string down_reason_ = "not connected to Redis yet";
  int reported_ = -1;  // -1 nothing reported yet, 0 down, 1 up
  unsigned attempt_ = 0;
  std::minstd_rand jitter_;
};

}  // namespace switchboard
