#include "switchboard/metrics/metrics_listener.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "switchboard/version.hpp"

namespace switchboard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kMaxDrain = 64 * 1024;

std::string error_body(std::string_view code, std::string_view message) {
  return fmt::format(R"({{"error":{{"code":"{}","message":"{}"}}}})", code, message);
}
}  // namespace

/// One connection to the metrics listener: read a request, answer, again while kept alive.
class MetricsListener::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Page page) : stream_(std::move(socket)), page_(std::move(page)) {}

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](auto ec, auto) { self->on_read(ec); });
  }

  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!drain_) return stream_.close();
    // A request refused mid-read may still be arriving: read and drop it (bounded in time and
    // bytes) before the close, or the close resets the connection and the answer is lost.
    drain_ = false;
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }

 private:
  void drain() {
    if (drained_ >= kMaxDrain) return stream_.close();
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](auto ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec) return self->stream_.close();
                              self->drain();
                            });
  }

  void on_read(boost::system::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return close();
    }
    drain_ = static_cast<bool>(ec);
    if (ec == http::error::header_limit) {
      return write(http::status::request_header_fields_too_large, "application/json",
                   error_body("headers_too_large", "Request headers are too large."), false);
    }
    if (ec == http::error::body_limit) {
      return write(http::status::payload_too_large, "application/json",
                   error_body("body_too_large", "This listener takes no request body."), false);
    }
    if (ec) {
      return write(http::status::bad_request, "application/json",
                   error_body("bad_request", "Malformed HTTP request."), false);
    }
    const auto& req = parser_->get();
    head_ = req.method() == http::verb::head;
    auto target = req.target();
    auto path = target.substr(0, target.find('?'));
    bool keep = req.keep_alive();
    if (path != "/metrics") {
      return write(http::status::not_found, "application/json",
                   error_body("not_found", "Only /metrics is served here."), keep);
    }
    if (req.method() != http::verb::get && !head_) {
      return write(http::status::method_not_allowed, "application/json",
                   error_body("method_not_allowed", "Use GET, HEAD."), keep, "GET, HEAD");
    }
    write(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", page_(), keep);
  }

  void write(http::status status, std::string_view type, std::string body, bool keep_alive,
             std::string_view allow = {}) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, std::string("switchboard/") + kVersion);
    res->set(http::field::content_type, type);
    res->set(http::field::cache_control, "no-store");
    if (!allow.empty()) res->set(http::field::allow, allow);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head_) res->body().clear();  // Content-Length stays that of the GET
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](auto ec, auto) {
      if (ec || !keep_alive) return self->close();
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  Page page_;  // a copy: the connection may outlive nothing of the listener's
  bool head_ = false;
  bool drain_ = false;  // the request was refused before it was read whole
  std::size_t drained_ = 0;
  std::array<char, 4096> scratch_{};
};

MetricsListener::MetricsListener(net::io_context& ioc, const tcp::endpoint& endpoint, Page page)
    : acceptor_(ioc), page_(std::move(page)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void MetricsListener::run() {
  do_accept();
}

void MetricsListener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    for (auto& w : self->connections_) {
      if (auto c = w.lock()) c->close();
    }
    self->connections_.clear();
  });
}

void MetricsListener::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](auto ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || self->stopped_) return;
    if (!ec) {
      std::erase_if(self->connections_, [](const auto& w) { return w.expired(); });
      if (self->connections_.size() >= kMaxConnections) {
        spdlog::warn("metrics listener: connection refused, {} open", kMaxConnections);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        auto c = std::make_shared<Connection>(std::move(socket), self->page_);
        self->connections_.push_back(c);
        c->read();
      }
    } else {
      spdlog::warn("metrics listener: accept failed: {}", ec.message());
    }
    self->do_accept();
  });
}

}  // namespace switchboard
