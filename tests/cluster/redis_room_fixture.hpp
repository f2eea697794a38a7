#pragma once
// What the RedisRoomDirectory tests share: a redis-server of the test's own, io threads, and
// a bounded wait for a directory's answer.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"
#include "switchboard/cluster/redis_room_directory.hpp"

namespace switchboard::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;

/// Waits for a directory callback; the result, or a failure after the bound.
template <class T>
Result<T, RoomDirectoryError> wait(std::function<void(RedisRoomDirectory::Done<T>)> call) {
  auto p = std::make_shared<std::promise<Result<T, RoomDirectoryError>>>();
  auto f = p->get_future();
  call([p](Result<T, RoomDirectoryError> r) { p->set_value(std::move(r)); });
  if (f.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within the bound";
    return RoomDirectoryError(RedisError{RedisError::Code::timeout, "test bound"});
  }
  return f.get();
}

inline std::string describe(const RoomDirectoryError& e) {
  if (auto* s = std::get_if<SignalError>(&e))
    return "SignalError " + std::to_string(static_cast<int>(*s));
  return "RedisError " + std::get<RedisError>(e).message;
}

class RedisRoomDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    for (auto& c : clients_) c->stop();
    guard_.reset();
    for (auto& t : threads_) t.join();
  }

  std::shared_ptr<RedisClient> client() {
    RedisClientOptions o;
    o.endpoint = parse_redis_url(server_.url()).value();
    auto c = RedisClient::create(io_.get_executor(), o);
    auto up = std::make_shared<std::promise<void>>();
    auto once = std::make_shared<std::once_flag>();
    c->on_state([up, once](bool is_up, const std::string&) {
      if (is_up) std::call_once(*once, [&] { up->set_value(); });
    });
    c->start();
    EXPECT_EQ(up->get_future().wait_for(kWait), std::future_status::ready);
    clients_.push_back(c);
    return c;
  }

  RoomLimits limits_{16, 64, 2};
  test::RedisServer server_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<RedisClient>> clients_;
};

}  // namespace switchboard::test
