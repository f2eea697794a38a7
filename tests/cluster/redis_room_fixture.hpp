#pragma once
// What the RedisRoomDirectory tests share: RedisFixture (a redis-server of the test's own, io
// threads, clients that are up), and a bounded wait for a directory's answer.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_fixture.hpp"
#include "switchboard/cluster/redis_room_directory.hpp"

namespace switchboard::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kWait = kRedisWait;

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

class RedisRoomDirectoryTest : public RedisFixture {
 protected:
  RoomLimits limits_{16, 64, 2};
};

}  // namespace switchboard::test
