#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test {

/// A WebSocket test client with its own I/O thread. Messages are queued as they arrive and
/// taken with next(timeout); every wait is bounded.
class WsClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  static constexpr std::chrono::milliseconds kWait{5000};

  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  /// Opens `target` with an upgrade request; returns the HTTP status (101 when upgraded).
  /// With `start_reading` false, nothing is read until start_reading() (a slow reader).
  int connect(std::uint16_t port, const std::string& target, const Headers& headers = {},
              bool start_reading = true);
  /// connect() with X-API-Key; expects 101 and returns the Welcome message.
  nlohmann::json connect_with_key(std::uint16_t port, const std::string& api_key);
  void start_reading();

  /// The body of a refused upgrade, parsed.
  const nlohmann::json& refusal() const { return refusal_; }

  /// Sends one text (or binary) message; returns false if it could not be written in time.
  bool send(const std::string& text, bool binary = false);
  bool send_json(const nlohmann::json& message) { return send(message.dump()); }

  /// The next message, or nullopt when none arrives within `timeout` or the socket is gone.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = kWait);
  /// The next message, which must have msg_type `type` (fails the test otherwise).
  nlohmann::json expect(int type, std::chrono::milliseconds timeout = kWait);
  /// Waits for the connection to end; the close code the server sent, -1 for a connection
  /// dropped without a close frame, nullopt if still open after `timeout`.
  std::optional<int> wait_closed(std::chrono::milliseconds timeout = kWait);
  /// Says goodbye: sends a close frame with `code` and waits (bounded) for the server's
  /// answer. The session ends with it (no resume).
  void close(std::uint16_t code = 1000);
  /// Messages received so far and not yet taken.
  std::size_t pending();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  nlohmann::json refusal_;
};

}  // namespace switchboard::test
