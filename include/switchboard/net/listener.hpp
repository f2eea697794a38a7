#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "switchboard/net/connection_limiter.hpp"
#include "switchboard/net/server_context.hpp"

namespace switchboard {

/// Accepts TCP connections and starts an HttpSession on each, handing connections to the
/// I/O threads' io_contexts in turn.
/// Connections over the limiter's bounds get a canned 503 and are closed.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  /// Binds and listens; throws boost::system::system_error when it cannot.
  /// Accepts on the first of `contexts`; connections go to each of them in turn.
  Listener(std::vector<boost::asio::io_context*> contexts,
           const boost::asio::ip::tcp::endpoint& endpoint, ServerContext& ctx,
           std::shared_ptr<ConnectionLimiter> limiter);

  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void run();
  /// Stops accepting (from any thread).
  void stop();

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void refuse(boost::asio::ip::tcp::socket socket);

  std::vector<boost::asio::io_context*> contexts_;
  std::size_t next_context_ = 0;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  ServerContext& ctx_;
  std::shared_ptr<ConnectionLimiter> limiter_;
};

}  // namespace switchboard
