#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "switchboard/ops/webhook_event.hpp"

namespace switchboard {

/// The webhook events waiting to be sent: a FIFO per lane (one lane per connection to the
/// receiver), bounded in total. An event's lane follows from its ordering key (its room), so
/// one room's events stay in order in one lane while other lanes go on. A push is a short
/// lock and a deque append, never I/O: the hub pushes while it holds its own lock.
class WebhookQueue {
 public:
  WebhookQueue(std::size_t lanes, std::size_t capacity);

  struct Pushed {
    bool accepted = false;  // false: the queue was full, the event is dropped
    bool wake = false;      // the lane was idle: its sender must be told
  };
  Pushed push(WebhookEvent event);

  /// The lane's next event; none marks the lane idle, so that the next push wakes it.
  std::optional<WebhookEvent> pop(std::size_t lane);

  /// Waits until every lane is idle and nothing is queued, or `deadline`; true when idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  std::size_t lane_of(std::string_view key) const;
  std::size_t lanes() const { return lanes_.size(); }
  /// Events queued and not yet taken by their lane.
  std::size_t depth();

 private:
  struct Lane {
    std::deque<WebhookEvent> events;
    bool busy = false;  // its sender holds an event or is about to pop one
  };

  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::vector<Lane> lanes_;
  std::size_t size_ = 0;
  std::size_t busy_ = 0;
};

}  // namespace switchboard
