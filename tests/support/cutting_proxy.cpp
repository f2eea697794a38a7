#include "support/cutting_proxy.hpp"

#include <boost/asio.hpp>
#include <future>
#include <list>
#include <thread>

namespace switchboard::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// One client connection and its connection to the daemon, copied both ways.
struct Pipe : std::enable_shared_from_this<Pipe> {
  explicit Pipe(tcp::socket client_side)
      : client(std::move(client_side)), daemon(client.get_executor()) {}

  void start(const tcp::endpoint& target) {
    daemon.async_connect(target, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->cut();
      self->copy(self->client, self->daemon, self->up);
      self->copy(self->daemon, self->client, self->down);
    });
  }

  void copy(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf) {
    from.async_read_some(net::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                               boost::system::error_code ec, std::size_t n) {
      if (ec) return self->cut();
      net::async_write(to, net::buffer(buf.data(), n),
                       [self, &from, &to, &buf](boost::system::error_code wec, std::size_t) {
                         if (wec) return self->cut();
                         self->copy(from, to, buf);
                       });
    });
  }

  /// Both sockets reset (linger 0): the peers see the connection fail, not end.
  void cut() {
    for (tcp::socket* s : {&client, &daemon}) {
      boost::system::error_code ignored;
      if (!s->is_open()) continue;
      s->set_option(net::socket_base::linger(true, 0), ignored);
      s->close(ignored);
    }
  }

  tcp::socket client;
  tcp::socket daemon;
  std::array<char, 16384> up{};
  std::array<char, 16384> down{};
};

}  // namespace

struct CuttingProxy::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  tcp::endpoint target;
  std::list<std::weak_ptr<Pipe>> pipes;  // io thread only
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto pipe = std::make_shared<Pipe>(std::move(s));
      pipes.remove_if([](const auto& w) { return w.expired(); });
      pipes.push_back(pipe);
      pipe->start(target);
      accept();
    });
  }
};

CuttingProxy::CuttingProxy(std::uint16_t target_port) : impl_(std::make_unique<Impl>()) {
  impl_->target = tcp::endpoint(net::ip::make_address("127.0.0.1"), target_port);
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

CuttingProxy::~CuttingProxy() {
  net::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    for (auto& w : impl_->pipes) {
      if (auto p = w.lock()) p->cut();
    }
  });
  impl_->thread.join();
}

std::uint16_t CuttingProxy::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::size_t CuttingProxy::cut_all() {
  std::promise<std::size_t> done;
  net::post(impl_->ioc, [this, &done] {
    std::size_t n = 0;
    for (auto& w : impl_->pipes) {
      if (auto p = w.lock()) {
        if (p->client.is_open()) ++n;
        p->cut();
      }
    }
    impl_->pipes.clear();
    done.set_value(n);
  });
  return done.get_future().get();
}

}  // namespace switchboard::test
