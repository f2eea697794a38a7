#include "switchboard/ops/webhook_queue.hpp"

#include <functional>

namespace switchboard {

WebhookQueue::WebhookQueue(std::size_t lanes, std::size_t capacity)
    : capacity_(capacity), lanes_(lanes == 0 ? 1 : lanes) {}

std::size_t WebhookQueue::lane_of(std::string_view key) const {
  return std::hash<std::string_view>{}(key) % lanes_.size();
}

WebhookQueue::Pushed WebhookQueue::push(WebhookEvent event) {
  std::size_t i = lane_of(event.order_key());
  std::lock_guard lock(mutex_);
  if (size_ >= capacity_) return {};
  Lane& lane = lanes_[i];
  lane.events.push_back(std::move(event));
  ++size_;
  if (lane.busy) return {true, false};
  lane.busy = true;
  ++busy_;
  return {true, true};
}

std::optional<WebhookEvent> WebhookQueue::pop(std::size_t i) {
  std::lock_guard lock(mutex_);
  Lane& lane = lanes_[i];
  if (lane.events.empty()) {
    if (lane.busy) {
      lane.busy = false;
      if (--busy_ == 0) idle_.notify_all();
    }
    return std::nullopt;
  }
  if (!lane.busy) {
    lane.busy = true;
    ++busy_;
  }
  WebhookEvent event = std::move(lane.events.front());
  lane.events.pop_front();
  --size_;
  return event;
}

bool WebhookQueue::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return busy_ == 0 && size_ == 0; });
}

std::size_t WebhookQueue::depth() {
  std::lock_guard lock(mutex_);
  return size_;
}

}  // namespace switchboard
