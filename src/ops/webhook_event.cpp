#include "switchboard/ops/webhook_event.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <time.h>

#include <nlohmann/json.hpp>

namespace switchboard {

namespace {
std::string to_hex(const unsigned char* bytes, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, n);
  out.pop_back();  // the NUL libsodium writes
  return out;
}
}  // namespace

const char* to_string(WebhookEventType type) {
  static const char* const names[] = {"user_registered", "room_created", "room_closed",
                                      "peer_joined", "peer_left"};
  return names[static_cast<std::size_t>(type)];
}

std::string new_webhook_event_id() {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return to_hex(bytes, sizeof bytes);
}

std::string rfc3339_millis(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  // Floor division, so that a time before 1970 still gets a millisecond part in 0..999.
  auto seconds = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  auto millis = ms - static_cast<long long>(seconds) * 1000;
  tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string webhook_body(const WebhookEvent& event, std::string_view id) {
  nlohmann::ordered_json body = {
      {"id", id}, {"event", to_string(event.type)}, {"time", rfc3339_millis(event.time)}};
  switch (event.type) {
    case WebhookEventType::user_registered:
      body["user_id"] = event.user;
      body["username"] = event.text;
      break;
    case WebhookEventType::room_created:
      body["room_id"] = event.room_id;
      body["host"] = event.user;
      break;
    case WebhookEventType::room_closed:
      body["room_id"] = event.room_id;
      body["reason"] = event.text;
      break;
    case WebhookEventType::peer_joined:
    case WebhookEventType::peer_left:
      body["room_id"] = event.room_id;
      body["user_id"] = event.user;
      break;
    case WebhookEventType::count_:
      break;
  }
  // A reason from an admin call may hold anything: never let a bad byte throw here.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds,
                              std::string_view body) {
  std::string t = std::to_string(unix_seconds);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(t.data()), t.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>("."), 1);
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  return "t=" + t + ",v1=" + to_hex(mac, sizeof mac);
}

}  // namespace switchboard
