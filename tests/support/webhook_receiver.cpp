#include "support/webhook_receiver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace switchboard::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

TestPki make_test_pki(const TempDir& dir, const std::string& name) {
  TestPki pki{dir.file(name + "-ca.pem"), dir.file(name + "-server.pem"),
              dir.file(name + "-server.key")};
  std::string ca_key = dir.file(name + "-ca.key");
  std::string csr = dir.file(name + "-server.csr");
  std::string ext = dir.file(name + "-ext.cnf");
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
  std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  std::string commands =
      "openssl req -x509" + ec + "-keyout '" + ca_key + "' -out '" + pki.ca_file +
      "' -days 2 -subj /CN=" + name +
      "-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
      " && openssl req" +
      ec + "-keyout '" + pki.key_file + "' -out '" + csr +
      "' -subj /CN=localhost && openssl x509 -req -in '" + csr + "' -CA '" + pki.ca_file +
      "' -CAkey '" + ca_key + "' -CAcreateserial -days 2 -extfile '" + ext + "' -out '" +
      pki.cert_file + "'";
  if (std::system(("(" + commands + ") >/dev/null 2>&1").c_str()) != 0) return {};
  return pki;
}

// Sessions are owned by their pending handlers (as in Beast's examples) and point at the
// Impl, which outlives them: its io_context destroys what is still pending when it goes.
struct WebhookReceiver::Impl {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::optional<ssl::context> tls;
  Script script;
  std::thread thread;

  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<Request> received;
  std::size_t accepted = 0;
  std::size_t handshake_failures = 0;
  // Connections told never to answer: kept open until the receiver stops.
  std::vector<std::shared_ptr<void>> held;

  template <class Stream>
  struct Session : std::enable_shared_from_this<Session<Stream>> {
    Session(Impl* o, Stream s, std::size_t n) : owner(o), stream(std::move(s)), number(n) {}

    void read() {
      parser.emplace();
      parser->body_limit(1 << 20);
      http::async_read(stream, buffer, *parser,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (!ec) self->handle();
                       });
    }

    void handle() {
      auto& req = parser->get();
      Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) {
        std::string key(f.name_string());
        for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[key] = std::string(f.value());
      }
      r.body = req.body();
      r.connection = number;
      Reply reply;
      std::size_t index = 0;
      {
        std::lock_guard lock(owner->mutex);
        index = owner->received.size();
        owner->received.push_back(r);
      }
      if (owner->script) reply = owner->script(r, index);
      owner->arrived.notify_all();
      if (reply.action == Action::never_answer) {
        std::lock_guard lock(owner->mutex);
        owner->held.push_back(this->shared_from_this());
        return;
      }
      if (reply.action == Action::drop) {
        beast::get_lowest_layer(stream).socket().close();
        return;
      }
      response.emplace(static_cast<http::status>(reply.status), 11);
      response->set(http::field::content_type, "application/json");
      response->body() = "{}";
      response->keep_alive(req.keep_alive());
      response->prepare_payload();
      http::async_write(stream, *response,
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                          if (!ec && self->response->keep_alive()) self->read();
                        });
    }

    Impl* owner;
    Stream stream;
    std::size_t number;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    std::optional<http::response<http::string_body>> response;
  };

  void accept() {
    acceptor.async_accept([self = this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::size_t n = 0;
      {
        std::lock_guard lock(self->mutex);
        n = ++self->accepted;
      }
      if (!self->tls) {
        std::make_shared<Session<beast::tcp_stream>>(self, beast::tcp_stream(std::move(socket)), n)
            ->read();
      } else {
        using Tls = beast::ssl_stream<beast::tcp_stream>;
        auto session = std::make_shared<Session<Tls>>(
            self, Tls(beast::tcp_stream(std::move(socket)), *self->tls), n);
        session->stream.async_handshake(ssl::stream_base::server,
                                        [self, session](beast::error_code hec) {
                                          if (!hec) return session->read();
                                          std::lock_guard lock(self->mutex);
                                          ++self->handshake_failures;
                                        });
      }
      self->accept();
    });
  }
};

WebhookReceiver::WebhookReceiver(Script script, const TestPki* pki)
    : impl_(std::make_unique<Impl>()) {
  impl_->script = std::move(script);
  if (pki) {
    impl_->tls.emplace(ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(pki->cert_file);
    impl_->tls->use_private_key_file(pki->key_file, ssl::context::pem);
  }
  tcp::endpoint where(net::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(where.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(where);
  impl_->acceptor.listen();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

WebhookReceiver::~WebhookReceiver() {
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->ioc.stop();
  });
  impl_->thread.join();
  // The held sessions go first, then the io_context with the pending ones (Impl's order).
  impl_->held.clear();
}

std::uint16_t WebhookReceiver::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::string WebhookReceiver::url(const std::string& path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) +
         path;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::wait_for(std::size_t n,
                                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->arrived.wait_for(lock, timeout, [&] { return impl_->received.size() >= n; });
  return impl_->received;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::wait_until(
    const std::function<bool(const std::vector<Request>&)>& done,
    std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->arrived.wait_for(lock, timeout, [&] { return done(impl_->received); });
  return impl_->received;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::requests() {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t WebhookReceiver::connections() {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t WebhookReceiver::failed_handshakes() {
  std::lock_guard lock(impl_->mutex);
  return impl_->handshake_failures;
}

}  // namespace switchboard::test
