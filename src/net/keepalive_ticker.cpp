#include "switchboard/net/keepalive_ticker.hpp"

#include <spdlog/spdlog.h>

namespace switchboard {

namespace net = boost::asio;

KeepaliveTicker::KeepaliveTicker(net::execution_context& context)
    : net::execution_context::service(context), timer_(static_cast<net::io_context&>(context)) {}

void KeepaliveTicker::watch(std::weak_ptr<Watcher> watcher) {
  if (stopped_) return;
  watched_.push_back(std::move(watcher));
  arm();
}

void KeepaliveTicker::shutdown() {
  stopped_ = true;
  watched_.clear();
  timer_.cancel();
}

void KeepaliveTicker::arm() {
  // Armed only while something is watched: an io_context with no connections may run out
  // of work and return.
  if (armed_ || stopped_ || watched_.empty()) return;
  armed_ = true;
  timer_.expires_after(kPeriod);
  timer_.async_wait([this](boost::system::error_code ec) {
    armed_ = false;
    if (!ec) on_tick();
  });
}

void KeepaliveTicker::on_tick() {
  const auto now = std::chrono::steady_clock::now();
  // A tick may add watchers (not here: sessions watch once, at their start) or end sessions;
  // those that are gone or done leave the list in the same pass.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < watched_.size(); ++i) {
    auto watcher = watched_[i].lock();
    bool keep = false;
    try {
      keep = watcher && watcher->on_tick(now);
    } catch (const std::exception& e) {
      spdlog::error("a keepalive tick failed: {}", e.what());
    }
    // (Not onto itself: a weak_ptr moved onto itself comes out empty.)
    if (keep && kept++ != i) watched_[kept - 1] = std::move(watched_[i]);
  }
  watched_.resize(kept);
  arm();
}

}  // namespace switchboard
