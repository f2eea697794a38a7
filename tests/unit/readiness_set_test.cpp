#include "switchboard/net/readiness_set.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard {
namespace {

namespace net = boost::asio;

/// A connected pair of local stream sockets, closed at the end of the test.
struct SocketPair {
  std::array<int, 2> fd{-1, -1};
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd.data()), 0); }
  ~SocketPair() {
    for (int f : fd) ::close(f);
  }
};

/// Records what the set tells it, in one log shared by every watcher of a test.
class RecordingWatcher final : public ReadinessSet::Watcher,
                               public std::enable_shared_from_this<RecordingWatcher> {
 public:
  RecordingWatcher(std::string name, std::vector<std::string>& log)
      : name_(std::move(name)), log_(log) {}
  virtual ~RecordingWatcher() = default;

  std::function<void(RecordingWatcher&)> when_ready;
  std::function<void(RecordingWatcher&)> when_round_ends;

  void on_ready(std::uint32_t) override {
    log_.push_back("ready " + name_);
    if (when_ready) when_ready(*this);
  }
  void on_round_end() override {
    log_.push_back("end " + name_);
    if (when_round_ends) when_round_ends(*this);
  }

 private:
  std::string name_;
  std::vector<std::string>& log_;
};

void drain(int fd) {
  char buffer[64];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

/// A set on an io_context of its own, and two socket pairs, a and b, whose watchers record
/// into one log.
struct RoundEnd : ::testing::Test {
  net::io_context io;
  ReadinessSet& set = ReadinessSet::of(io.get_executor());
  SocketPair a, b;
  std::vector<std::string> log;
  std::shared_ptr<RecordingWatcher> wa = std::make_shared<RecordingWatcher>("a", log);
  std::shared_ptr<RecordingWatcher> wb = std::make_shared<RecordingWatcher>("b", log);
  std::optional<ReadinessSet::Token> ta, tb;

  bool is_a(const RecordingWatcher& w) const { return &w == wa.get(); }
  int fd_of(const RecordingWatcher& w) const { return is_a(w) ? a.fd[0] : b.fd[0]; }
  void unwatch(const RecordingWatcher& w) { set.unwatch(fd_of(w), is_a(w) ? *ta : *tb); }
  /// Queues `w` for the end of the round, if this is one of io's rounds.
  bool queue(RecordingWatcher& w) {
    return ReadinessSet::after_round(io.get_executor(), w.shared_from_this());
  }

  /// Makes a's socket readable (and b's, with `both`: one round then reports both), watches
  /// it, and runs the context until nothing is watched, 5 s at most.
  void run(bool both) {
    ASSERT_EQ(::write(a.fd[1], "x", 1), 1);
    if (both) {
      ASSERT_EQ(::write(b.fd[1], "y", 1), 1);
    }
    ta = set.watch(a.fd[0], wa);
    ASSERT_TRUE(ta);
    if (both) {
      tb = set.watch(b.fd[0], wb);
      ASSERT_TRUE(tb);
    }
    io.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(io.stopped()) << "the set still waits: something is still watched";
    EXPECT_EQ(set.watched(), 0u);
  }
};

TEST_F(RoundEnd, WorkQueuedForItRunsOnceEveryEventOfTheRoundIsHandled) {
  net::io_context other;
  std::vector<bool> accepted;  // after_round's answers, in the order asked
  for (auto* w : {wa.get(), wb.get()}) {
    w->when_ready = [&](RecordingWatcher& self) {
      drain(fd_of(self));
      accepted.push_back(queue(self));
      // Another context's work is not this round's: its caller must post there.
      accepted.push_back(ReadinessSet::after_round(other.get_executor(), self.shared_from_this()));
    };
  }
  int a_rounds = 0;
  bool refused_after_round = false;
  wa->when_round_ends = [&](RecordingWatcher& self) {
    // Work queued by round-end work runs in the same round, before the set waits again.
    if (++a_rounds == 1) {
      accepted.push_back(queue(self));
    } else {
      unwatch(self);
      // A handler that runs once the round is over is in no round.
      net::post(io, [&, keep = self.shared_from_this()] { refused_after_round = !queue(*keep); });
    }
  };
  wb->when_round_ends = [&](RecordingWatcher& self) { unwatch(self); };

  // Outside any round (the test's thread, then a handler of the context): refused.
  EXPECT_FALSE(queue(*wa));
  bool refused_in_handler = false;
  net::post(io, [&] { refused_in_handler = !queue(*wa); });

  run(true);
  EXPECT_TRUE(refused_in_handler);
  EXPECT_TRUE(refused_after_round);
  ASSERT_EQ(log.size(), 5u);
  // Both events first (in either order), then the round-end work, in the order queued.
  EXPECT_EQ(log[0].substr(0, 5), "ready");
  EXPECT_EQ(log[1].substr(0, 5), "ready");
  EXPECT_NE(log[0], log[1]);
  EXPECT_EQ(log[2], "end " + log[0].substr(6));
  EXPECT_EQ(log[3], "end " + log[1].substr(6));
  EXPECT_EQ(log[4], "end a");
  EXPECT_EQ(accepted, (std::vector<bool>{true, false, true, false, true}));
}

TEST_F(RoundEnd, WorkThatKeepsQueueingMoreLetsTheThreadsOtherHandlersRun) {
  int passes = 0;
  bool other_handler_ran = false;
  wa->when_ready = [&](RecordingWatcher& self) {
    drain(a.fd[0]);
    queue(self);
  };
  // Like a connection that other threads keep delivering to: each pass queues another.
  wa->when_round_ends = [&](RecordingWatcher& self) {
    if (++passes == 1) net::post(io, [&] { other_handler_ran = true; });
    if (other_handler_ran || passes == 1000) return unwatch(self);
    EXPECT_TRUE(queue(self));
  };
  run(false);
  EXPECT_TRUE(other_handler_ran);
  EXPECT_LT(passes, 10) << "the round-end work kept the thread to itself";
  EXPECT_GT(passes, 1);
}

TEST_F(RoundEnd, WorkThatThrowsLeavesTheRestOfTheRoundToRun) {
  bool refused_after = false;
  for (auto* w : {wa.get(), wb.get()}) {
    w->when_ready = [&](RecordingWatcher& self) {
      drain(fd_of(self));
      queue(self);
    };
    w->when_round_ends = [&](RecordingWatcher& self) {
      unwatch(self);
      // Runs once the round is over, however it ended.
      net::post(io, [&] { refused_after = !queue(*wa); });
      throw std::runtime_error("round-end work failed");
    };
  }
  run(true);
  EXPECT_EQ(std::count(log.begin(), log.end(), "end a"), 1);
  EXPECT_EQ(std::count(log.begin(), log.end(), "end b"), 1);
  EXPECT_TRUE(refused_after) << "the thread still counts as in the round";
}

}  // namespace
}  // namespace switchboard
