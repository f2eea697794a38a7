#include "switchboard/net/keepalive_ticker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>

namespace switchboard {
namespace {

/// Counts its ticks and asks for `wanted` of them.
struct Counter : KeepaliveTicker::Watcher {
  explicit Counter(int w) : wanted(w) {}
  bool on_tick(std::chrono::steady_clock::time_point) override { return ++ticks < wanted; }
  int wanted;
  int ticks = 0;
};

// Every watcher that wants more ticks gets each one (the first in the list too), one that has
// had enough leaves, and once nothing is watched the io_context runs out of work and returns.
TEST(KeepaliveTicker, TicksEachWatcherUntilItIsDoneThenLetsRunReturn) {
  boost::asio::io_context ioc;
  auto first = std::make_shared<Counter>(3);
  auto second = std::make_shared<Counter>(3);
  auto brief = std::make_shared<Counter>(1);
  auto& ticker = KeepaliveTicker::of(ioc.get_executor());
  ticker.watch(first);
  ticker.watch(brief);
  ticker.watch(second);
  EXPECT_EQ(ticker.watched(), 3u);
  ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(ioc.stopped()) << "run did not return once every watcher was done";
  EXPECT_EQ(first->ticks, 3);
  EXPECT_EQ(second->ticks, 3);
  EXPECT_EQ(brief->ticks, 1);
  EXPECT_EQ(ticker.watched(), 0u);
}

// A watcher that is gone is dropped at the next tick, without being called.
TEST(KeepaliveTicker, AWatcherThatIsGoneIsDropped) {
  boost::asio::io_context ioc;
  auto& ticker = KeepaliveTicker::of(ioc.get_executor());
  auto kept = std::make_shared<Counter>(2);
  ticker.watch(std::make_shared<Counter>(100));  // gone at once
  ticker.watch(kept);
  ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(ioc.stopped());
  EXPECT_EQ(kept->ticks, 2);
  EXPECT_EQ(ticker.watched(), 0u);
}

}  // namespace
}  // namespace switchboard
