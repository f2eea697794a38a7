#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace switchboard {

/// The separate listener of METRICS_ADDR: HTTP/1.1 with nothing but GET (and HEAD) /metrics.
/// Every other path is 404, another method on /metrics 405, a malformed request 400. Small
/// and bounded: requests of at most 8 KiB of headers and no body, 10 s to send one, at most
/// kMaxConnections open at once (more are closed at once). Runs on one io_context thread, so
/// its connections need no locks.
class MetricsListener : public std::enable_shared_from_this<MetricsListener> {
 public:
  using Page = std::function<std::string()>;
  static constexpr std::size_t kMaxConnections = 32;

  /// Binds and listens; throws boost::system::system_error when it cannot.
  MetricsListener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
                  Page page);

  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void run();
  /// Stops accepting and closes every connection (from any thread).
  void stop();

 private:
  class Connection;
  void do_accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  Page page_;
  std::vector<std::weak_ptr<Connection>> connections_;
  bool stopped_ = false;
};

}  // namespace switchboard
