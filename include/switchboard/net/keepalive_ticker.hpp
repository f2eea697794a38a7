#pragma once

#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace switchboard {

/// One timer per I/O thread for every WebSocket on it: once a second it calls each watched
/// connection's tick, which decides whether to ping, to drop a silent peer, or to cut a close
/// that takes too long. A connection thus holds no timer and no pending wait of its own while
/// it is idle. An io_context service: it lives and dies with its thread's io_context, and is
/// used from that thread only.
class KeepaliveTicker : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;
  static constexpr auto kPeriod = std::chrono::seconds(1);

  /// What the ticker visits. `on_tick` returns false once it wants no more ticks.
  class Watcher {
   public:
    virtual ~Watcher() = default;
    virtual bool on_tick(std::chrono::steady_clock::time_point now) = 0;
  };

  explicit KeepaliveTicker(boost::asio::execution_context& context);

  /// The ticker of the io_context that runs `executor`.
  template <class Executor>
  static KeepaliveTicker& of(const Executor& executor) {
    return boost::asio::use_service<KeepaliveTicker>(
        boost::asio::query(executor, boost::asio::execution::context));
  }

  /// Ticks `watcher` until it is gone or says it is done.
  void watch(std::weak_ptr<Watcher> watcher);

  std::size_t watched() const { return watched_.size(); }

 private:
  void shutdown() override;
  void arm();
  void on_tick();

  boost::asio::steady_timer timer_;
  std::vector<std::weak_ptr<Watcher>> watched_;
  bool armed_ = false;
  bool stopped_ = false;
};

}  // namespace switchboard
