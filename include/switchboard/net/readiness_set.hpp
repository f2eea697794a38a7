#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace switchboard {

/// The readiness of an I/O thread's WebSocket connections, registered once per connection
/// instead of once per wait: an epoll set of our own (edge-triggered), which the thread's
/// io_context watches as one descriptor. Asio's `async_wait` re-registers a socket with its
/// reactor (`EPOLL_CTL_MOD`) on every wait, since it cannot know that no readiness was
/// missed; a connection that reads until the socket is drained, and writes until it would
/// block, misses none, and here waits for the next edge at no cost. That was a system call
/// per read, about 4% of the daemon's time when saturated. The connections' sockets are
/// taken out of Asio's reactor, so each readiness is reported once; their timers, and
/// everything else, stay with Asio.
///
/// One per io_context (an Asio service), used by that context's thread only.
class ReadinessSet : public boost::asio::io_context::service {
 public:
  /// Told when its descriptor may have become readable or writable, hung up or failed
  /// (`events`: EPOLLIN, EPOLLOUT, EPOLLRDHUP...; EPOLLOUT comes with nearly every event).
  /// It reads until the socket is drained and writes until done or told to wait, or another
  /// edge may never come. A short read counts as drained, unless EPOLLRDHUP, EPOLLHUP or
  /// EPOLLERR came: the end of stream makes no edge of its own after the data it came with.
  class Watcher {
   public:
    virtual void on_ready(std::uint32_t events) = 0;
    /// The work after_round() queued for it: the round's events have all been handled.
    virtual void on_round_end() = 0;

   protected:
    ~Watcher() = default;
  };
  using Token = std::uint64_t;

  static boost::asio::io_context::id id;

  explicit ReadinessSet(boost::asio::io_context& context);
  ~ReadinessSet() override;

  /// The set of the io_context `executor` belongs to, made with its first use.
  static ReadinessSet& of(const boost::asio::any_io_executor& executor);

  /// Watches `fd` until unwatch(), holding `watcher` meanwhile. A descriptor readable (or
  /// hung up) already is reported by the set's next round. nullopt when the kernel refuses
  /// (out of memory, or of epoll watches).
  std::optional<Token> watch(int fd, std::shared_ptr<Watcher> watcher);
  /// Stops watching (before the descriptor is closed or changes threads). Readiness already
  /// fetched for it is dropped.
  void unwatch(int fd, Token token);
  /// Queues `watcher`'s on_round_end for the end of the round this thread is in, when it is
  /// in one of the set serving `executor`; false otherwise (the caller posts instead). A
  /// connection delivered a message writes there, once: what the round's other messages bring
  /// it goes out in the same system call. Cheaper than a post, which allocates, locks the
  /// scheduler, and runs as a handler of its own.
  static bool after_round(const boost::asio::any_io_executor& executor,
                          std::shared_ptr<Watcher> watcher);
  /// Descriptors watched now (for tests).
  std::size_t watched() const { return slots_.size() - free_.size(); }

 private:
  struct Slot {
    std::shared_ptr<Watcher> watcher;
    std::uint32_t generation = 0;  // bumped on unwatch: tokens of earlier watchers go stale
  };

  /// The slot `token` names while it still holds that token's watcher; nullptr once the
  /// watcher was unwatched (the slot's generation moved on).
  Slot* slot_of(Token token);
  void shutdown() override;
  void wait();
  void on_ready();
  /// Runs what after_round() queued, and what that queues meanwhile, up to a few passes.
  void run_round_end();

  int epoll_fd_;
  boost::asio::posix::stream_descriptor descriptor_;  // the same set, as the io_context sees it
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  bool waiting_ = false;  // a wait on descriptor_ is pending (only while something is watched)
  std::vector<std::shared_ptr<Watcher>> after_round_;  // queued for this round's end
  std::vector<std::shared_ptr<Watcher>> running_;      // being run (capacity kept)
  bool round_end_posted_ = false;  // what the passes left runs in a handler posted for it
};

}  // namespace switchboard
