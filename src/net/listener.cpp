#include "switchboard/net/listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "switchboard/config/settings.hpp"
#include "switchboard/metrics/metrics.hpp"
#include "switchboard/net/http_session.hpp"
#include "switchboard/net/request_adapter.hpp"
#include "switchboard/util/logging.hpp"

namespace switchboard {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(std::vector<net::io_context*> contexts, const tcp::endpoint& endpoint,
                   ServerContext& ctx, std::shared_ptr<ConnectionLimiter> limiter)
    : contexts_(std::move(contexts)),
      acceptor_(*contexts_.front()),
      retry_timer_(acceptor_.get_executor()),
      ctx_(ctx),
      limiter_(std::move(limiter)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::run() {
  do_accept();
}

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
  });
}

void Listener::do_accept() {
  net::any_io_executor target = contexts_[next_context_++ % contexts_.size()]->get_executor();
  acceptor_.async_accept(
      target, [self = shared_from_this()](auto ec, auto s) { self->on_accept(ec, std::move(s)); });
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ctx_.shutting_down) return;  // accepted just as shutdown began: the socket closes here
  if (ec) {
    // Out of file descriptors or the like: back off briefly instead of spinning.
    spdlog::error("accept failed: {}", ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](auto wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  boost::system::error_code ep_ec;
  auto remote = socket.remote_endpoint(ep_ec);
  if (ep_ec) {
    do_accept();  // the peer is already gone
    return;
  }
  socket.set_option(tcp::no_delay(true), ep_ec);
  auto address = remote.address().to_string();
  if (auto slot = limiter_->try_acquire(
          address, !is_trusted_proxy(address, ctx_.settings.trusted_proxies))) {
    ctx_.metrics.local().connections_accepted.add();
    auto session = std::make_shared<HttpSession>(std::move(socket), ctx_, std::move(slot), address);
    ctx_.http_sessions.add(session);
    session->run();
  } else {
    ctx_.metrics.local().connections_refused.add();
    log_warn("connection refused: connection limit reached", {{"remote_addr", address}});
    refuse(std::move(socket));
  }
  do_accept();
}

void Listener::refuse(tcp::socket socket) {
  static const std::string busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nRetry-After: 1\r\nContent-Length: 83\r\n\r\n"
      "{\"error\":{\"code\":\"unavailable\",\"message\":\"Too many connections; try again "
      "later.\"}}";
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  net::async_write(*s, net::buffer(busy), [s](auto, auto) {
    boost::system::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

}  // namespace switchboard
