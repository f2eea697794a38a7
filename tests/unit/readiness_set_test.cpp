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

TEST(ReadinessSet, WorkQueuedForTheRoundEndRunsOnceEveryEventOfTheRoundIsHandled) {
  net::io_context io;
  net::io_context other;
  auto& set = ReadinessSet::of(io.get_executor());
  SocketPair a, b;
  std::vector<std::string> log;
  auto wa = std::make_shared<RecordingWatcher>("a", log);
  auto wb = std::make_shared<RecordingWatcher>("b", log);
  std::optional<ReadinessSet::Token> ta, tb;
  std::vector<bool> accepted;  // after_round's answers, in the order asked

  for (auto* w : {wa.get(), wb.get()}) {
    w->when_ready = [&](RecordingWatcher& self) {
      drain(&self == wa.get() ? a.fd[0] : b.fd[0]);
      accepted.push_back(ReadinessSet::after_round(io.get_executor(), self.shared_from_this()));
      // Another context's work is not this round's: its caller must post there.
      accepted.push_back(ReadinessSet::after_round(other.get_executor(), self.shared_from_this()));
    };
  }
  int a_rounds = 0;
  bool refused_after_round = false;
  wa->when_round_ends = [&](RecordingWatcher& self) {
    // Work queued by round-end work runs in the same round, before the set waits again.
    if (++a_rounds == 1) {
      accepted.push_back(ReadinessSet::after_round(io.get_executor(), self.shared_from_this()));
    } else {
      set.unwatch(a.fd[0], *ta);
      // A handler that runs once the round is over is in no round.
      net::post(io, [&, keep = self.shared_from_this()] {
        refused_after_round = !ReadinessSet::after_round(io.get_executor(), keep);
      });
    }
  };
  wb->when_round_ends = [&](RecordingWatcher&) { set.unwatch(b.fd[0], *tb); };

  // Outside any round (the test's thread, then a handler of the context): refused.
  EXPECT_FALSE(ReadinessSet::after_round(io.get_executor(), wa));
  bool refused_in_handler = false;
  net::post(io, [&] { refused_in_handler = !ReadinessSet::after_round(io.get_executor(), wa); });

  // Both readable before the set first looks: one round reports both.
  ASSERT_EQ(::write(a.fd[1], "x", 1), 1);
  ASSERT_EQ(::write(b.fd[1], "y", 1), 1);
  ta = set.watch(a.fd[0], wa);
  tb = set.watch(b.fd[0], wb);
  ASSERT_TRUE(ta && tb);

  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped()) << "the set still waits: something is still watched";
  EXPECT_TRUE(refused_in_handler);
  EXPECT_TRUE(refused_after_round);
  EXPECT_EQ(set.watched(), 0u);
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

TEST(ReadinessSet, RoundEndWorkThatKeepsQueueingMoreLetsTheThreadsOtherHandlersRun) {
  net::io_context io;
  auto& set = ReadinessSet::of(io.get_executor());
  SocketPair a;
  std::vector<std::string> log;
  auto w = std::make_shared<RecordingWatcher>("a", log);
  std::optional<ReadinessSet::Token> token;
  int passes = 0;
  bool other_handler_ran = false;
  w->when_ready = [&](RecordingWatcher& self) {
    drain(a.fd[0]);
    ReadinessSet::after_round(io.get_executor(), self.shared_from_this());
  };
  // Like a connection that other threads keep delivering to: each pass queues another.
  w->when_round_ends = [&](RecordingWatcher& self) {
    if (++passes == 1) net::post(io, [&] { other_handler_ran = true; });
    if (other_handler_ran || passes == 1000) {
      set.unwatch(a.fd[0], *token);
      return;
    }
    EXPECT_TRUE(ReadinessSet::after_round(io.get_executor(), self.shared_from_this()));
  };
  ASSERT_EQ(::write(a.fd[1], "x", 1), 1);
  token = set.watch(a.fd[0], w);
  ASSERT_TRUE(token);
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped());
  EXPECT_TRUE(other_handler_ran);
  EXPECT_LT(passes, 10) << "the round-end work kept the thread to itself";
  EXPECT_GT(passes, 1);
}

TEST(ReadinessSet, RoundEndWorkThatThrowsLeavesTheRestOfTheRoundToRun) {
  net::io_context io;
  auto& set = ReadinessSet::of(io.get_executor());
  SocketPair a, b;
  std::vector<std::string> log;
  auto wa = std::make_shared<RecordingWatcher>("a", log);
  auto wb = std::make_shared<RecordingWatcher>("b", log);
  std::optional<ReadinessSet::Token> ta, tb;
  bool refused_after = false;
  for (auto* w : {wa.get(), wb.get()}) {
    w->when_ready = [&](RecordingWatcher& self) {
      drain(&self == wa.get() ? a.fd[0] : b.fd[0]);
      ReadinessSet::after_round(io.get_executor(), self.shared_from_this());
    };
    w->when_round_ends = [&](RecordingWatcher& self) {
      set.unwatch(&self == wa.get() ? a.fd[0] : b.fd[0], &self == wa.get() ? *ta : *tb);
      // Runs once the round is over, however it ended.
      net::post(io, [&] { refused_after = !ReadinessSet::after_round(io.get_executor(), wa); });
      throw std::runtime_error("round-end work failed");
    };
  }
  ASSERT_EQ(::write(a.fd[1], "x", 1), 1);
  ASSERT_EQ(::write(b.fd[1], "y", 1), 1);
  ta = set.watch(a.fd[0], wa);
  tb = set.watch(b.fd[0], wb);
  ASSERT_TRUE(ta && tb);
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(std::count(log.begin(), log.end(), "end a"), 1);
  EXPECT_EQ(std::count(log.begin(), log.end(), "end b"), 1);
  EXPECT_TRUE(refused_after) << "the thread still counts as in the round";
}

}  // namespace
}  // namespace switchboard
