#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "switchboard/metrics/metrics.hpp"
#include "switchboard/ops/webhook_queue.hpp"
#include "switchboard/ops/webhook_url.hpp"
#include "switchboard/signaling/room_events.hpp"

namespace switchboard {

struct WebhookConfig {
  WebhookUrl url;
  std::string secret;
  std::string ca_file;  // empty: the system's CAs
  std::size_t queue_size = 10000;
  unsigned connections = 4;  // lanes: each a connection, each room's events on one of them
  std::chrono::milliseconds timeout{10000};  // one attempt: connect, TLS, request, answer
  unsigned max_attempts = 8;
  std::chrono::milliseconds backoff{500};  // before the 2nd attempt; doubling, jittered
  std::chrono::milliseconds max_backoff{60000};
};

/// Sends the daemon's events to the application's receiver (docs/webhooks.md): signed POSTs
/// from a bounded queue, over kept-alive connections, on a thread and io_context of its own,
/// so that a slow, dead or junk-answering receiver never holds up signaling. Each event is
/// retried with exponential backoff and jitter until a 2xx, a 4xx or the last attempt; one
/// room's events go out in order (a lane per connection, a room always on the same lane).
class WebhookSender final : public RoomEvents {
 public:
  /// Throws (a start-up failure) when the CA file cannot be read.
  explicit WebhookSender(WebhookConfig config);
  ~WebhookSender() override;
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void start();
  /// Waits up to `flush_for` for what is queued to be sent, then stops; what is left is
  /// counted (dropped_shutdown) and logged.
  void stop(std::chrono::milliseconds flush_for);

  /// A successful /register (any thread).
  void user_registered(UserId user, const std::string& username);

  // RoomEvents: under the hub's lock, so only a queue push each.
  void room_created(const std::string& room_id, UserId host) override;
  void peer_joined(const std::string& room_id, UserId user) override;
  void peer_left(const std::string& room_id, UserId user) override;
  void room_closed(const std::string& room_id, std::string_view reason) override;
  void flush() override;

  const WebhookStats& stats() const { return stats_; }
  std::size_t queue_depth() { return queue_.depth(); }

 private:
  class Lane;
  struct Io;
  void enqueue(WebhookEvent event);
  void log_overflow();

  WebhookConfig config_;
  WebhookStats stats_;
  WebhookQueue queue_;
  std::atomic<bool> wake_{false};  // a push found its lane idle: flush() wakes the lanes
  std::atomic<std::uint64_t> dropped_unlogged_{0};
  std::atomic<std::int64_t> last_overflow_log_{0};  // steady clock, ms
  std::unique_ptr<Io> io_;                          // the io_context, the TLS context and the lanes
  std::thread thread_;
};

}  // namespace switchboard
