#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "switchboard/api/http_types.hpp"
#include "switchboard/auth/identity.hpp"
#include "switchboard/metrics/metrics.hpp"
#include "switchboard/net/connection_limiter.hpp"
#include "switchboard/net/server_context.hpp"
#include "switchboard/signaling/session_manager.hpp"

namespace switchboard {

/// One HTTP/1.1 connection: reads requests with header, body and time limits, hands them to
/// RestApi and writes the answers, keeping the connection alive when the client asks. A GET
/// /ws upgrade is authenticated here and then handed, socket and all, to a WsSession.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx,
              std::unique_ptr<ConnectionLimiter::Slot> slot, std::string peer_address);

  void run();
  /// Shutdown: an idle connection closes now; a busy one after its response (any thread).
  void shutdown();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  void do_read();
  void on_read(boost::system::error_code ec);
  void on_request();
  void upgrade();
  /// Authenticated: for a resume, brings its session here (Hub::bring_session) and reads
  /// its rooms (ResumeRequest::rooms); then hands over.
  void accept_upgrade(Identity who);
  void read_resumed_rooms(Identity who);
  /// Hands the socket to a WsSession, which answers 101.
  void hand_over(Identity who);
  void respond(HttpResponse response);
  void write(HttpResponse response, bool keep_alive);
  void on_write(bool keep_alive, boost::system::error_code ec);
  void close();
  void drain();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  ServerContext& ctx_;
  std::unique_ptr<ConnectionLimiter::Slot> slot_;
  std::optional<ResumeRequest> resume_;  // what a /ws upgrade asks to resume
  std::string peer_address_;
  std::string client_address_;  // a /ws upgrade's, X-Forwarded-For from a trusted proxy
  bool reading_ = false;        // waiting for (the rest of) a request
  bool close_after_ = false;    // shutdown asked: no keep-alive after the current response
  bool head_request_ = false;
  bool keep_alive_ = false;
  bool drain_before_close_ = false;  // the refused request may still be arriving
  std::size_t drained_ = 0;
  // For /metrics: the route of the request being answered (nullopt: not an API path, or not
  // parsed) and when it had been read.
  std::optional<metric_labels::Route> route_;
  std::chrono::steady_clock::time_point read_at_;
  std::shared_ptr<void> response_;  // the response being written
};

/// The live HTTP sessions, so that shutdown can close the idle keep-alive ones.
class HttpSessionSet {
 public:
  void add(const std::shared_ptr<HttpSession>& s);
  void shutdown_all();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<HttpSession>> sessions_;
};

}  // namespace switchboard
