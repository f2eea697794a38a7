#pragma once

// A GoogleTest fixture for the cluster code: a redis-server of the test's own, an io_context
// run by two threads (as the daemon's), clients that are up before they are handed out, and
// bounded waits for callbacks and for events that arrive on their own.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"
#include "switchboard/cluster/redis_client.hpp"

namespace switchboard::test {

inline constexpr std::chrono::seconds kRedisWait{10};

/// Things that arrive from another thread, taken in arrival order with a bounded wait.
template <class T>
class Inbox {
 public:
  void push(T item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    cv_.notify_all();
  }
  /// The next item, or nullopt when none came within `bound`.
  std::optional<T> next(std::chrono::milliseconds bound = kRedisWait) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, bound, [&] { return !items_.empty(); })) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<T> items_;
};

/// Calls `call` with a callback and waits (bounded) for its one answer.
template <class R, class Call>
R await_answer(Call call) {
  auto p = std::make_shared<std::promise<R>>();
  auto f = p->get_future();
  call([p](R r) { p->set_value(std::move(r)); });
  if (f.wait_for(kRedisWait) != std::future_status::ready) {
    throw std::runtime_error("no answer within the bound");
  }
  return f.get();
}

class RedisFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    for (auto& c : clients_) c->stop();
    guard_.reset();
    for (auto& t : threads_) t.join();
  }

  RedisClientOptions options() {
    RedisClientOptions o;
    o.endpoint = parse_redis_url(server_.url()).value();
    o.reconnect_max = std::chrono::milliseconds(500);
    return o;
  }
  /// A client, not started (a subscriber is configured before it starts).
  std::shared_ptr<RedisClient> unstarted_client() {
    auto c = RedisClient::create(io_.get_executor(), options());
    clients_.push_back(c);
    return c;
  }
  /// A command client that is up. `states`, when given, hears every later up/down.
  std::shared_ptr<RedisClient> client(std::shared_ptr<Inbox<bool>> states = nullptr) {
    auto c = unstarted_client();
    auto up = std::make_shared<std::promise<void>>();
    auto once = std::make_shared<std::once_flag>();
    c->on_state([up, once, states](bool is_up, const std::string&) {
      bool first = false;
      if (is_up) std::call_once(*once, [&] { first = true; });
      if (first) return up->set_value();
      if (states) states->push(is_up);
    });
    c->start();
    EXPECT_EQ(up->get_future().wait_for(kRedisWait), std::future_status::ready);
    return c;
  }
  /// A command's reply (a failure when it has none).
  RedisReply command(const std::shared_ptr<RedisClient>& c, std::vector<std::string> args) {
    auto r = await_answer<RedisClient::Reply>(
        [&](auto done) { c->command(std::move(args), std::move(done)); });
    if (!r.ok()) throw std::runtime_error("redis: " + r.error().message);
    return r.value();
  }

  test::RedisServer server_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<RedisClient>> clients_;
};

}  // namespace switchboard::test
