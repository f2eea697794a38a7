#include "support/ws_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <future>

namespace switchboard::test {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  std::thread thread;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::string> messages;
  bool ended = false;
  int close_code = -1;

  void read_loop() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      std::lock_guard lock(mutex);
      if (ec) {
        ended = true;
        if (ec == websocket::error::closed) close_code = ws.reason().code;
        cv.notify_all();
        return;
      }
      messages.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      cv.notify_all();
      read_loop();
    });
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}

WsClient::~WsClient() {
  if (impl_->thread.joinable()) {
    net::post(impl_->ioc, [this] { beast::get_lowest_layer(impl_->ws).close(); });
    impl_->guard.reset();
    impl_->ioc.stop();
    impl_->thread.join();
  }
}

int WsClient::connect(std::uint16_t port, const std::string& target, const Headers& headers,
                      bool start) {
  auto& s = *impl_;
  auto& tcp_layer = beast::get_lowest_layer(s.ws);
  tcp_layer.expires_after(kWait);
  beast::error_code ec;
  tcp_layer.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return 0;
  // As browsers do: each message goes out at once. With Nagle, a message written right after
  // one that gets no reply (a LeaveRoom) waits for the daemon's delayed ACK, 40 ms.
  tcp_layer.socket().set_option(tcp::no_delay(true), ec);
  s.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  s.ws.read_message_max(64 << 20);
  websocket::response_type res;
  int status = 0;
  s.ws.async_handshake(res, "127.0.0.1", target, [&](beast::error_code hec) {
    status = static_cast<int>(res.result_int());
    if (hec && status == 101) status = 0;
  });
  s.ioc.run();
  s.ioc.restart();
  if (status != 101) {
    refusal_ = nlohmann::json::parse(res.body(), nullptr, false);
    return status;
  }
  tcp_layer.expires_never();
  s.guard.emplace(s.ioc.get_executor());
  s.thread = std::thread([&s] { s.ioc.run(); });
  if (start) start_reading();
  return status;
}

void WsClient::start_reading() {
  net::post(impl_->ioc, [this] { impl_->read_loop(); });
}

nlohmann::json WsClient::connect_with_key(std::uint16_t port, const std::string& api_key) {
  int status = connect(port, "/ws", {{"X-API-Key", api_key}});
  EXPECT_EQ(status, 101) << refusal_.dump();
  if (status != 101) return nullptr;
  return expect(12);
}

bool WsClient::send(const std::string& text, bool binary) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  net::post(impl_->ioc, [this, text, binary, done] {
    impl_->ws.binary(binary);
    auto payload = std::make_shared<std::string>(text);
    impl_->ws.async_write(net::buffer(*payload),
                          [done, payload](beast::error_code ec, auto) { done->set_value(!ec); });
  });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return false;
  return result.get();
}

std::optional<nlohmann::json> WsClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->cv.wait_for(lock, timeout, [&] { return !impl_->messages.empty() || impl_->ended; });
  if (impl_->messages.empty()) return std::nullopt;
  auto text = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  return nlohmann::json::parse(text, nullptr, false);
}

nlohmann::json WsClient::expect(int type, std::chrono::milliseconds timeout) {
  auto m = next(timeout);
  EXPECT_TRUE(m.has_value()) << "no message of type " << type << " arrived";
  if (!m) return nullptr;
  EXPECT_EQ(m->value("msg_type", -1), type) << m->dump();
  return *m;
}

std::optional<int> WsClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return impl_->ended; })) return std::nullopt;
  return impl_->close_code;
}

void WsClient::close(std::uint16_t code) {
  net::post(impl_->ioc, [this, code] {
    impl_->ws.async_close(websocket::close_code(code), [](beast::error_code) {});
  });
  // The read loop ends with the server's answer to our close frame.
  EXPECT_TRUE(wait_closed().has_value()) << "the close handshake did not finish";
}

std::size_t WsClient::pending() {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages.size();
}

}  // namespace switchboard::test
