#include "switchboard/net/readiness_set.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace switchboard {

namespace net = boost::asio;

namespace {
/// Events fetched per epoll_wait; a fuller set takes several.
constexpr int kBatch = 128;

/// Passes over the round-end work (which may queue more) before the rest waits behind the
/// thread's other handlers.
constexpr int kRoundEndPasses = 4;

/// The set whose round this thread is in, if any.
thread_local ReadinessSet* round_of_thread = nullptr;

/// This thread is in `set`'s round while it lives, however the round ends.
class RoundScope {
 public:
  explicit RoundScope(ReadinessSet* set) : outer_(std::exchange(round_of_thread, set)) {}
  ~RoundScope() { round_of_thread = outer_; }
  RoundScope(const RoundScope&) = delete;
  RoundScope& operator=(const RoundScope&) = delete;

 private:
  ReadinessSet* outer_;
};

/// Calls a watcher: one that throws is logged, and the thread goes on with the others (as
/// run_guarded does for Asio's handlers).
template <typename Call>
void call_guarded(Call call) {
  try {
    call();
  } catch (const std::exception& e) {
    spdlog::error("an I/O handler failed: {}", e.what());
  }
}

int make_epoll() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}
}  // namespace

net::io_context::id ReadinessSet::id;

ReadinessSet::ReadinessSet(net::io_context& context)
    : net::io_context::service(context), epoll_fd_(make_epoll()), descriptor_(context) {
  boost::system::error_code ec;
  // The descriptor object gets its own copy: epoll_fd_ stays ours to close.
  descriptor_.assign(::fcntl(epoll_fd_, F_DUPFD_CLOEXEC, 0), ec);
  if (ec) {
    ::close(epoll_fd_);
    throw std::system_error(ec, "watching the readiness set");
  }
}

ReadinessSet::~ReadinessSet() {
  ::close(epoll_fd_);
}

ReadinessSet& ReadinessSet::of(const net::any_io_executor& executor) {
  const auto* io = executor.target<net::io_context::executor_type>();
  if (io == nullptr) throw std::logic_error("a connection's executor is not an io_context's");
  return net::use_service<ReadinessSet>(io->context());
}

std::optional<ReadinessSet::Token> ReadinessSet::watch(int fd, std::shared_ptr<Watcher> watcher) {
  std::uint32_t index;
  if (free_.empty()) {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  Slot& slot = slots_[index];
  Token token = (Token{slot.generation} << 32) | index;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    spdlog::warn("cannot watch a connection: {}", std::strerror(errno));
    free_.push_back(index);
    return std::nullopt;
  }
  slot.watcher = std::move(watcher);
  if (!waiting_) wait();
  return token;
}

ReadinessSet::Slot* ReadinessSet::slot_of(Token token) {
  auto index = static_cast<std::uint32_t>(token);
  if (index >= slots_.size()) return nullptr;
  Slot& slot = slots_[index];
  return slot.generation == static_cast<std::uint32_t>(token >> 32) ? &slot : nullptr;
}

void ReadinessSet::unwatch(int fd, Token token) {
  Slot* slot = slot_of(token);
  if (slot == nullptr) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ++slot->generation;
  free_.push_back(static_cast<std::uint32_t>(token));
  // The pending wait is work that keeps the io_context running: with nothing to watch, the
  // context may end, as it would once its last connection's wait had ended.
  if (watched() == 0 && waiting_) {
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
  }
  // Last: the watcher may go with it.
  auto gone = std::move(slot->watcher);
}

bool ReadinessSet::after_round(const net::any_io_executor& executor,
                               std::shared_ptr<Watcher> watcher) {
  ReadinessSet* set = round_of_thread;
  if (set == nullptr) return false;
  const auto* io = executor.target<net::io_context::executor_type>();
  if (io == nullptr || &io->context() != &set->context()) return false;
  set->after_round_.push_back(std::move(watcher));
  return true;
}

void ReadinessSet::wait() {
  waiting_ = true;
  descriptor_.async_wait(net::posix::stream_descriptor::wait_read, [this](auto ec) {
    waiting_ = false;
    if (!ec) return on_ready();
    // Cancelled by unwatch(); something may have been watched again since.
    if (ec == net::error::operation_aborted && watched() > 0 && !waiting_) wait();
  });
}

void ReadinessSet::on_ready() {
  std::array<epoll_event, kBatch> events;
  {
    RoundScope round(this);
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events.data(), kBatch, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        spdlog::error("epoll_wait on a readiness set: {}", std::strerror(errno));
        break;
      }
      for (int i = 0; i < n; ++i) {
        // Unwatched since (by a watcher called earlier in this batch, say): a stale token.
        Slot* slot = slot_of(events[i].data.u64);
        if (slot == nullptr) continue;
        // Held for the call: the watcher may unwatch itself, and its slot let go of it.
        std::shared_ptr<Watcher> watcher = slot->watcher;
        call_guarded([&] { watcher->on_ready(events[i].events); });
      }
      if (n < kBatch) break;
    }
    run_round_end();
  }
  // A watcher called above may have watched something (and so waited) already.
  if (watched() > 0 && !waiting_) wait();
}

void ReadinessSet::run_round_end() {
  // Round-end work may queue more: a batch that is out completes there, and deliveries from
  // other threads can keep a connection writing pass after pass. A few passes, then what is
  // left waits behind the thread's other handlers (reads, timers), as posted work would.
  for (int pass = 0; pass < kRoundEndPasses && !after_round_.empty(); ++pass) {
    running_.swap(after_round_);
    for (auto& watcher : running_) call_guarded([&] { watcher->on_round_end(); });
    running_.clear();
  }
  if (!after_round_.empty() && !round_end_posted_) {
    round_end_posted_ = true;
    net::post(descriptor_.get_executor(), [this] {
      round_end_posted_ = false;
      RoundScope round(this);
      run_round_end();
    });
  }
}

void ReadinessSet::shutdown() {
  boost::system::error_code ignored;
  descriptor_.close(ignored);
  // The context is going away: its connections with it.
  std::vector<Slot> slots;
  slots.swap(slots_);
  free_.clear();
  after_round_.clear();
}

}  // namespace switchboard
