#include "switchboard/cluster/redis_client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <utility>

#include "switchboard/cluster/redis_asio_adapter.hpp"

namespace switchboard {

namespace asio = boost::asio;

namespace {

RedisReply copy_reply(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r.type == REDIS_REPLY_STRING   ? RedisReply::Type::string
                 : r.type == REDIS_REPLY_STATUS ? RedisReply::Type::status
                                                : RedisReply::Type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i)
        out.elements.push_back(copy_reply(*r.element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

/// A pub/sub push ("message", "pmessage", "subscribe", "psubscribe"), or nothing for the
/// kinds nobody waits for (unsubscribe confirmations).
std::optional<RedisPubSubEvent> to_event(const RedisReply& r) {
  if (r.type != RedisReply::Type::array || r.elements.size() < 3) return std::nullopt;
  const std::string& kind = r.elements[0].str;
  RedisPubSubEvent e;
  if (kind == "message") {
    e.channel = r.elements[1].str;
    e.payload = r.elements[2].str;
  } else if (kind == "pmessage" && r.elements.size() == 4) {
    e.pattern = r.elements[1].str;
    e.channel = r.elements[2].str;
    e.payload = r.elements[3].str;
  } else if (kind == "subscribe") {
    e.kind = RedisPubSubEvent::Kind::subscribed;
    e.channel = r.elements[1].str;
  } else if (kind == "psubscribe") {
    e.kind = RedisPubSubEvent::Kind::subscribed;
    e.pattern = r.elements[1].str;
  } else {
    return std::nullopt;
  }
  return e;
}

RedisError unavailable(std::string message) {
  return RedisError{RedisError::Code::unavailable, std::move(message)};
}

}  // namespace

std::shared_ptr<RedisClient> RedisClient::create(asio::any_io_executor executor,
                                                 RedisClientOptions options) {
  return std::make_shared<RedisClient>(Private{}, std::move(executor), std::move(options));
}

RedisClient::RedisClient(Private, asio::any_io_executor executor, RedisClientOptions options)
    : strand_(asio::make_strand(std::move(executor))),
      options_(std::move(options)),
      resolver_(strand_),
      phase_timer_(strand_),
      timeout_timer_(strand_),
      jitter_(std::random_device{}()) {}

RedisClient::~RedisClient() {
  // Every handler holds a reference while it runs, so nothing else touches the client now.
  if (ac_) {
    ac_->data = nullptr;  // hiredis's farewell callbacks find no client
    redisAsyncFree(ac_);
    ac_ = nullptr;
  }
  fail_all(unavailable("Redis client stopped"));
}

void RedisClient::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->state_ == State::idle) self->connect();
  });
}

void RedisClient::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->state_ == State::stopped) return;
    self->state_ = State::stopped;
    ++self->connection_;
    self->resolver_.cancel();
    self->phase_timer_.cancel();
    self->timeout_timer_.cancel();
    if (auto* ac = std::exchange(self->ac_, nullptr)) {
      ac->data = nullptr;
      redisAsyncFree(ac);
    }
    self->fail_all(unavailable("Redis client stopped"));
  });
}

void RedisClient::command(std::vector<std::string> args, Callback done) {
  asio::post(strand_, [self = shared_from_this(), args = std::move(args), done = std::move(done)] {
    if (self->state_ != State::up) {
      std::string why =
          self->state_ == State::stopped ? "Redis client stopped" : self->down_reason_;
      asio::post(self->strand_, [done, why] { done(unavailable(why)); });
      return;
    }
    self->send(args, done);
  });
}

void RedisClient::preload_script(std::string lua) {
  asio::post(strand_, [self = shared_from_this(), lua = std::move(lua)] {
    if (self->scripts_.insert(lua).second && self->state_ == State::up) {
      self->send({"SCRIPT", "LOAD", lua}, [](Reply) {});
    }
  });
}

void RedisClient::subscribe(std::string channel) {
  asio::post(strand_, [self = shared_from_this(), channel = std::move(channel)] {
    if (self->channels_.insert(channel).second && self->state_ == State::up) {
      self->send_subscriptions("SUBSCRIBE", {channel});
    }
  });
}

void RedisClient::psubscribe(std::string pattern) {
  asio::post(strand_, [self = shared_from_this(), pattern = std::move(pattern)] {
    if (self->patterns_.insert(pattern).second && self->state_ == State::up) {
      self->send_subscriptions("PSUBSCRIBE", {pattern});
    }
  });
}

void RedisClient::unsubscribe(std::string channel) {
  asio::post(strand_, [self = shared_from_this(), channel = std::move(channel)] {
    if (self->channels_.erase(channel) && self->state_ == State::up) {
      self->send_subscriptions("UNSUBSCRIBE", {channel});
    }
  });
}

// ---- connecting ----

void RedisClient::connect() {
  state_ = State::connecting;
  const auto attempt = ++connection_;
  std::weak_ptr<RedisClient> weak = weak_from_this();
  phase_timer_.expires_after(options_.connect_timeout);
  phase_timer_.async_wait(asio::bind_executor(strand_, [weak, attempt](auto ec) {
    auto self = weak.lock();
    if (!self || ec || self->connection_ != attempt || self->state_ != State::connecting) return;
    self->resolver_.cancel();
    self->drop_connection("Redis did not answer within " +
                          std::to_string(self->options_.connect_timeout.count()) +
                          " ms of connecting");
  }));
  // Asio resolves on its own thread; hiredis would call getaddrinfo here, blocking.
  resolver_.async_resolve(
      options_.endpoint.host, std::to_string(options_.endpoint.port),
      asio::bind_executor(
          strand_, [weak, attempt](auto ec, asio::ip::tcp::resolver::results_type results) {
            auto self = weak.lock();
            if (!self || self->connection_ != attempt || self->state_ != State::connecting) return;
            if (ec || results.empty()) {
              self->connection_lost("cannot resolve Redis host " + self->options_.endpoint.host +
                                    ": " + (ec ? ec.message() : "no address"));
              return;
            }
            self->open(results.begin()->endpoint());
          }));
}

void RedisClient::open(const asio::ip::tcp::endpoint& endpoint) {
  // An IP literal: hiredis's own getaddrinfo returns at once for it.
  redisAsyncContext* ac =
      redisAsyncConnect(endpoint.address().to_string().c_str(), endpoint.port());
  if (!ac || ac->err) {
    std::string why = ac ? ac->errstr : "out of memory";
    if (ac) redisAsyncFree(ac);
    connection_lost("cannot connect to Redis: " + why);
    return;
  }
  ac_ = ac;
  ac->data = this;
  adapter_ = RedisAsioAdapter::attach(strand_, ac, weak_from_this());
  redisAsyncSetDisconnectCallback(ac, &RedisClient::on_disconnect);
  redisAsyncSetConnectCallback(ac, &RedisClient::on_connect);
  handshake();
}

// AUTH, SELECT and PING go out at once (hiredis buffers them until the socket connects);
// the connection counts as up when the PING is answered, so that a wrong password or a
// Redis still loading its data is a failed attempt and not a connection that fails later.
void RedisClient::handshake() {
  const auto attempt = connection_;
  std::weak_ptr<RedisClient> weak = weak_from_this();
  auto step = [weak, attempt](std::string what, bool last) {
    return [weak, attempt, what = std::move(what), last](Reply reply) {
      auto self = weak.lock();
      if (!self || self->connection_ != attempt || self->state_ != State::connecting) return;
      if (!reply.ok()) {
        self->drop_connection("Redis did not answer " + what + ": " + reply.error().message);
      } else if (reply.value().is_error()) {
        self->drop_connection("Redis refused " + what + ": " + reply.value().str);
      } else if (last) {
        self->became_up();
      }
    };
  };
  if (!options_.endpoint.password.empty())
    send({"AUTH", options_.endpoint.password}, step("AUTH", false));
  if (options_.endpoint.db != 0)
    send({"SELECT", std::to_string(options_.endpoint.db)}, step("SELECT", false));
  for (const auto& lua : scripts_) send({"SCRIPT", "LOAD", lua}, step("SCRIPT LOAD", false));
  send({"PING"}, step("PING", true));
}

void RedisClient::became_up() {
  state_ = State::up;
  attempt_ = 0;
  phase_timer_.cancel();
  send_subscriptions("SUBSCRIBE", channels_);
  send_subscriptions("PSUBSCRIBE", patterns_);
  report(true, {});
}

void RedisClient::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self || status == REDIS_OK) return;
  // hiredis frees the context when this returns.
  self->ac_ = nullptr;
  self->connection_lost("cannot connect to Redis at " + self->options_.endpoint.host + ":" +
                        std::to_string(self->options_.endpoint.port) + ": " + ac->errstr);
}

void RedisClient::on_disconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self) return;
  self->ac_ = nullptr;  // hiredis frees it when this returns
  self->connection_lost(std::string("lost the connection to Redis: ") +
                        (status == REDIS_OK || !ac->errstr[0] ? "closed" : ac->errstr));
}

void RedisClient::drop_connection(const std::string& reason) {
  if (auto* ac = std::exchange(ac_, nullptr)) {
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  connection_lost(reason);
}

// May run inside a hiredis callback: it calls nothing of hiredis.
void RedisClient::connection_lost(const std::string& reason) {
  if (state_ == State::stopped || state_ == State::waiting) return;
  state_ = State::waiting;
  down_reason_ = reason;
  timeout_timer_.cancel();
  fail_all(unavailable(reason));
  report(false, reason);
  schedule_reconnect();
}

void RedisClient::schedule_reconnect() {
  auto base = options_.reconnect_min * (1LL << std::min(attempt_, 16U));
  auto delay = std::min<std::chrono::milliseconds>(base, options_.reconnect_max);
  ++attempt_;
  std::uniform_int_distribution<long long> pick(delay.count() / 2, delay.count());
  const auto attempt = connection_;
  phase_timer_.expires_after(std::chrono::milliseconds(pick(jitter_)));
  phase_timer_.async_wait(asio::bind_executor(strand_, [weak = weak_from_this(), attempt](auto ec) {
    auto self = weak.lock();
    if (!self || ec || self->connection_ != attempt || self->state_ != State::waiting) return;
    self->connect();
  }));
}

// ---- commands ----

void RedisClient::send(const std::vector<std::string>& args, Callback done) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  const std::uint64_t id = next_id_++;
  pending_.emplace(
      id, Pending{std::move(done), std::chrono::steady_clock::now() + options_.command_timeout});
  if (pending_.size() == 1) arm_timeout();
  // The id, not a pointer, travels through hiredis: a reply for a command that timed out
  // finds nothing and is dropped.
  if (redisAsyncCommandArgv(ac_, &RedisClient::on_reply, reinterpret_cast<void*>(id),
                            static_cast<int>(args.size()), argv.data(), lens.data()) != REDIS_OK) {
    complete(id, unavailable("the Redis connection is closing"));
  }
}

void RedisClient::send_subscriptions(const char* verb, const std::set<std::string>& names) {
  if (names.empty() || !ac_) return;
  std::vector<const char*> argv{verb};
  std::vector<std::size_t> lens{std::char_traits<char>::length(verb)};
  for (const auto& n : names) {
    argv.push_back(n.data());
    lens.push_back(n.size());
  }
  // Id 0: hiredis calls this callback for every later delivery on these channels.
  redisAsyncCommandArgv(ac_, &RedisClient::on_reply, nullptr, static_cast<int>(argv.size()),
                        argv.data(), lens.data());
}

void RedisClient::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisClient*>(ac->data);
  // No reply: hiredis is freeing the context; connection_lost fails what is pending.
  if (!self || !reply) return;
  RedisReply value = copy_reply(*static_cast<redisReply*>(reply));
  auto id = reinterpret_cast<std::uintptr_t>(privdata);
  if (id != 0) {
    self->complete(id, std::move(value));
    return;
  }
  if (auto event = to_event(value)) {
    asio::post(self->strand_, [weak = self->weak_from_this(), event = std::move(*event)] {
      auto s = weak.lock();
      if (s && s->on_message_) s->on_message_(event);
    });
  }
}

// Callbacks are posted, never run inside hiredis: one may stop the client or send more.
void RedisClient::complete(std::uint64_t id, Reply reply) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto done = std::move(it->second.done);
  pending_.erase(it);
  asio::post(strand_, [done = std::move(done), reply = std::move(reply)]() mutable {
    done(std::move(reply));
  });
}

void RedisClient::fail_all(const RedisError& error) {
  auto failed = std::exchange(pending_, {});
  for (auto& [id, p] : failed) {
    asio::post(strand_, [done = std::move(p.done), error] { done(error); });
  }
}

void RedisClient::arm_timeout() {
  timeout_timer_.expires_at(pending_.begin()->second.deadline);
  timeout_timer_.async_wait(asio::bind_executor(strand_, [weak = weak_from_this()](auto ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->on_timeout();
  }));
}

void RedisClient::on_timeout() {
  const auto now = std::chrono::steady_clock::now();
  while (!pending_.empty() && pending_.begin()->second.deadline <= now) {
    complete(pending_.begin()->first,
             RedisError{RedisError::Code::timeout,
                        "Redis did not answer within " +
                            std::to_string(options_.command_timeout.count()) + " ms"});
  }
  if (!pending_.empty()) arm_timeout();
}

void RedisClient::report(bool up, const std::string& reason) {
  if (reported_ == static_cast<int>(up)) return;
  reported_ = up;
  asio::post(strand_, [weak = weak_from_this(), up, reason] {
    auto self = weak.lock();
    if (self && self->on_state_) self->on_state_(up, reason);
  });
}

}  // namespace switchboard
