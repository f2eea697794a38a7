#include "switchboard/ops/readiness_probe.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <future>
#include <optional>

#include "support/temp_dir.hpp"
#include "switchboard/store/sqlite_user_store.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace switchboard {
namespace {

using test::TempDir;
using Clock = ReadinessProbe::Clock;

/// A real SQLite store and worker pool; a fake clock; and a way to fill the pool's queue.
struct ProbeRig {
  explicit ProbeRig(std::size_t queue_limit)
      : store(dir.file("a.db")),
        pool(1, queue_limit),
        probe(store, pool, std::chrono::seconds(1), [this] { return now; }) {}
  ~ProbeRig() {
    release();
    pool.join();
  }

  /// Occupies the only worker (and one queue place) until release().
  void block_worker() {
    ASSERT_TRUE(pool.try_run(
        ioc.get_executor(),
        [f = gate.get_future().share()] {
          f.wait();
          return 0;
        },
        [this](int) { unblocked = true; }));
  }
  void release() {
    if (!released) gate.set_value();
    released = true;
  }
  /// release(), then waits until the blocking job has left the queue.
  void release_and_wait() {
    release();
    ioc.restart();
    for (int i = 0; !unblocked && i < 10000; ++i) ioc.run_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(unblocked);
  }

  /// Asks the probe; the answer, once the io_context has run what was posted to it.
  std::optional<Readiness> ask_and_wait() {
    std::optional<Readiness> got;
    probe.check(ioc.get_executor(), [&](Readiness r) { got = r; });
    ioc.restart();
    for (int i = 0; !got && i < 10000; ++i) ioc.run_for(std::chrono::milliseconds(1));
    return got;
  }

  TempDir dir;
  SqliteUserStore store;
  WorkerPool pool;
  Clock::time_point now{};
  boost::asio::io_context ioc;
  ReadinessProbe probe;
  std::promise<void> gate;
  bool released = false;
  bool unblocked = false;
};

TEST(ReadinessProbe, ReadyWhenTheStoreAnswers) {
  ProbeRig rig(4);
  EXPECT_EQ(rig.ask_and_wait(), Readiness::ready);
}

TEST(ReadinessProbe, DrainingAnswersAtOnceWithoutAskingTheStore) {
  ProbeRig rig(1);
  rig.block_worker();  // the store could not be asked
  rig.probe.begin_drain();
  std::optional<Readiness> got;
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { got = r; });
  EXPECT_EQ(got, Readiness::draining);
}

TEST(ReadinessProbe, FullWorkerQueueAnswersBusyAtOnce) {
  ProbeRig rig(1);
  rig.block_worker();
  std::optional<Readiness> got;
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { got = r; });
  EXPECT_EQ(got, Readiness::busy) << "answered synchronously, no wait";
  rig.release_and_wait();
  EXPECT_EQ(rig.ask_and_wait(), Readiness::ready) << "a refusal is not remembered";
}

TEST(ReadinessProbe, AnAnswerIsReusedForOneSecond) {
  ProbeRig rig(1);
  ASSERT_EQ(rig.ask_and_wait(), Readiness::ready);
  rig.block_worker();  // from now on a question to the store would be refused
  rig.now += std::chrono::milliseconds(999);
  std::optional<Readiness> got;
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { got = r; });
  EXPECT_EQ(got, Readiness::ready) << "the cached answer, at once";
  rig.now += std::chrono::milliseconds(1);
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { got = r; });
  EXPECT_EQ(got, Readiness::busy) << "a stale answer is not reused: the store is asked";
}

TEST(ReadinessProbe, ProbesArrivingDuringACheckShareIt) {
  // Room for the blocker and one more job: a second check of its own would be refused.
  ProbeRig rig(2);
  rig.block_worker();
  std::optional<Readiness> first;
  std::optional<Readiness> second;
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { first = r; });
  rig.probe.check(rig.ioc.get_executor(), [&](Readiness r) { second = r; });
  EXPECT_FALSE(first);
  EXPECT_FALSE(second) << "the second probe was refused instead of sharing the check";
  rig.release();
  for (int i = 0; !(first && second) && i < 10000; ++i) {
    rig.ioc.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(first, Readiness::ready);
  EXPECT_EQ(second, Readiness::ready);
}

}  // namespace
}  // namespace switchboard
