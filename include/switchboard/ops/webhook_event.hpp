#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard {

/// The events a webhook receiver is told about (protocol.md section 5, docs/webhooks.md).
enum class WebhookEventType : std::uint8_t {
  user_registered,
  room_created,
  room_closed,
  peer_joined,
  peer_left,
  count_
};
inline constexpr std::size_t kWebhookEventTypes =
    static_cast<std::size_t>(WebhookEventType::count_);
/// The `event` field: "user_registered", "room_created", ...
const char* to_string(WebhookEventType type);

/// One event as the hub or the account service reported it: plain values, cheap to build
/// under the hub's lock. The JSON body is made later, on the sender's thread.
struct WebhookEvent {
  WebhookEventType type = WebhookEventType::room_created;
  std::chrono::system_clock::time_point time;
  std::string room_id;     // empty for user_registered
  std::uint64_t user = 0;  // user_id, or the host for room_created
  std::string text;        // username (user_registered) or reason (room_closed)

  /// The ordering key: one room's events (or one user's registration) go out in order.
  std::string_view order_key() const { return room_id.empty() ? std::string_view(text) : room_id; }
};

/// A fresh event id: 128 random bits as 32 lower-case hex digits.
std::string new_webhook_event_id();

/// `time` as RFC 3339 in UTC with milliseconds: "2026-12-04T10:05:00.123Z".
std::string rfc3339_millis(std::chrono::system_clock::time_point time);

/// The POST body: {"id", "event", "time", ...the event's own fields}.
std::string webhook_body(const WebhookEvent& event, std::string_view id);

/// The X-Switchboard-Signature value: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
/// "<t>.<body>")>".
std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds,
                              std::string_view body);

}  // namespace switchboard
