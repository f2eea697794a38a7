#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <memory>
#include <mutex>

#include "switchboard/net/connection_limiter.hpp"
#include "switchboard/net/server_context.hpp"
#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/token_bucket.hpp"

namespace switchboard {

/// One authenticated WebSocket connection: reads client messages and hands them to the
/// SignalingHub; writes what the hub delivers through a bounded queue with exactly one
/// async_write outstanding. The session lives as long as an operation of it is pending.
class WsSession : public Peer, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx, Identity who,
            std::unique_ptr<ConnectionLimiter::Slot> slot);

  /// Completes the upgrade `req` and starts the session.
  void run(boost::beast::http::request<boost::beast::http::string_body> req);

  void deliver(SharedText message) override;
  void close(CloseCode code, std::string_view reason) override;

 private:
  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec);
  void do_write();
  void on_write(boost::system::error_code ec);
  /// Stops accepting messages and closes with `code`; with `flush`, after the queue drains.
  void start_close(CloseCode code, std::string_view reason, bool flush);
  void begin_close(CloseCode code, const std::string& reason);
  void do_close();
  void finish();
  /// Leaves the hub (and so every room) once; strand only.
  void leave_hub();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer close_guard_;
  ServerContext& ctx_;
  std::unique_ptr<ConnectionLimiter::Slot> slot_;
  TokenBucket rate_;
  TokenBucket strikes_;         // how many rate-limited messages we tolerate before closing
  bool close_started_ = false;  // strand only: async_close issued
  CloseCode close_code_ = CloseCode::going_away;  // strand only
  std::string close_reason_;                      // strand only
  bool connected_ = false;                        // strand only: registered with the hub
  bool finished_ = false;                         // strand only: the connection has ended

  std::mutex mutex_;  // guards the queue and the flags below; deliver() comes from any thread
  std::deque<SharedText> queue_;
  SharedText in_flight_;  // the message async_write is sending (strand only)
  bool writing_ = false;
  bool closing_ = false;          // no more deliveries accepted
  bool close_requested_ = false;  // close once the queue is empty
};

}  // namespace switchboard
