#include "switchboard/cli/probe_command.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace switchboard {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string probe_host(const std::string& server_host) {
  if (server_host.empty() || server_host == "0.0.0.0") return "127.0.0.1";
  if (server_host == "::" || server_host == "[::]") return "::1";
  return server_host;
}

namespace {

// /readyz would say more (it turns 503 while draining), but /healthz is the route every
// version of the daemon has; a container is "healthy" while its process serves.
constexpr const char* kProbeTarget = "/healthz";

/// One GET with a deadline over the whole exchange: resolve, connect, write, read. Runs on a
/// private io_context, so nothing here can block longer than the deadline.
class Probe {
 public:
  Probe(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}

  /// The HTTP status, or 0 with `error` set when no response arrived.
  unsigned run(std::string& error) {
    stream_.expires_after(timeout_);
    resolver_.async_resolve(host_, std::to_string(port_),
                            [this](beast::error_code ec, tcp::resolver::results_type results) {
                              on_resolve(ec, std::move(results));
                            });
    io_.run();
    error = error_;
    return status_;
  }

 private:
  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail("resolve", ec);
    stream_.async_connect(results, [this](beast::error_code connect_ec, const tcp::endpoint&) {
      on_connect(connect_ec);
    });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail("connect", ec);
    request_ = {http::verb::get, kProbeTarget, 11};
    request_.set(http::field::host, host_);
    request_.set(http::field::user_agent, "switchboard-probe");
    request_.set(http::field::connection, "close");
    http::async_write(stream_, request_,
                      [this](beast::error_code write_ec, std::size_t) { on_write(write_ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec) return fail("write", ec);
    http::async_read(stream_, buffer_, response_,
                     [this](beast::error_code read_ec, std::size_t) { on_read(read_ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail("read", ec);
    status_ = response_.result_int();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void fail(const char* step, const beast::error_code& ec) {
    error_ = std::string(step) + ": " +
             (ec == beast::error::timeout ? std::string("timed out") : ec.message());
  }

  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  tcp::resolver resolver_{io_};
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  unsigned status_ = 0;
  std::string error_;
};

}  // namespace

int run_probe(const Settings& settings, std::ostream& out, std::chrono::milliseconds timeout) {
  std::string host = probe_host(settings.server_host);
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string url = "http://" + shown + ":" + std::to_string(settings.server_port) + kProbeTarget;
  std::string error;
  unsigned status = Probe(host, settings.server_port, timeout).run(error);
  if (status == 200) {
    out << "ok: " << url << " answered 200\n";
    return 0;
  }
  if (status != 0) {
    out << "unhealthy: " << url << " answered " << status << "\n";
  } else {
    out << "unhealthy: " << url << " " << error << "\n";
  }
  return 1;
}

}  // namespace switchboard
