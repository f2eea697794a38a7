// BufferedSocket, the next layer under each /ws Beast stream, on real loopback sockets: output
// waits for uncork, a write over the high-water mark waits for a reader that does not read,
// bytes sent with the upgrade request are read first, and the teardown sends what is
// gathered before it shuts the connection down.
#include "switchboard/net/buffered_socket.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace switchboard {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// A connected pair on loopback: `client` is a plain blocking socket on its own io_context,
/// the server end is handed to a BufferedSocket on `ioc`.
struct Pair {
  net::io_context ioc{1};
  net::io_context client_ioc{1};
  tcp::socket client{client_ioc};
  std::atomic<std::uint64_t> writes_waited{0};
  std::shared_ptr<int> owner = std::make_shared<int>(0);
  std::optional<BufferedSocket> server;

  explicit Pair(std::string early = {}) {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    tcp::socket accepted(ioc);
    acceptor.accept(accepted);
    server.emplace(std::move(accepted), std::move(early), writes_waited);
    server->set_owner(owner);
  }

  /// Runs the server's ready handlers (and what they post) until none is left.
  void settle() {
    ioc.restart();
    ioc.poll();
  }

  /// What the client can read now without waiting.
  std::string client_available() {
    client.non_blocking(true);
    std::string out;
    char buf[65536];
    for (;;) {
      boost::system::error_code ec;
      auto n = client.read_some(net::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    client.non_blocking(false);
    return out;
  }
};

TEST(BufferedSocket, CorkedOutputLeavesOnlyOnUncork) {
  Pair p;
  p.server->cork();
  std::size_t written = 0;
  p.server->async_write_some(net::buffer(std::string("hello")),
                             [&](auto ec, std::size_t n) { written = ec ? 0 : n; });
  p.settle();
  EXPECT_EQ(written, 5u) << "a write under the mark completes at once";
  EXPECT_EQ(p.server->unsent(), 5u);
  EXPECT_EQ(p.client_available(), "") << "corked output went out";
  p.server->uncork();
  p.settle();
  EXPECT_EQ(p.server->unsent(), 0u);
  std::string got(5, '\0');
  net::read(p.client, net::buffer(got));
  EXPECT_EQ(got, "hello");
}

TEST(BufferedSocket, BytesSentWithTheUpgradeAreReadFirst) {
  Pair p("early");
  net::write(p.client, net::buffer(std::string("late")));
  std::string got;
  char buf[16];
  // One read at a time, the next from the completion of the last, until all nine bytes came.
  std::function<void()> read_on = [&] {
    p.server->async_read_some(net::buffer(buf), [&](auto ec, std::size_t n) {
      if (ec) return;
      got.append(buf, n);
      if (got.size() < 9) read_on();
    });
  };
  read_on();
  p.ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(got, "earlylate");
}

// A reader that stops reading stops the writer: a write that takes the unsent output over the
// mark completes only once the socket has taken the excess, and the bytes arrive in order.
TEST(BufferedSocket, AWriteOverTheMarkWaitsUntilTheReaderReads) {
  Pair p;
  // Small buffers (the kernel would otherwise take megabytes), not tiny ones (a window of a
  // few KB makes every round trip wait for a delayed ACK).
  p.client.set_option(net::socket_base::receive_buffer_size(64 * 1024));
  p.server->next_layer().set_option(net::socket_base::send_buffer_size(64 * 1024));
  std::string big(2 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  bool done = false;
  p.server->async_write_some(net::buffer(big),
                             [&](auto ec, std::size_t n) { done = !ec && n == big.size(); });
  p.ioc.restart();
  p.ioc.run_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done) << "2 MiB were taken by a socket nobody reads";
  EXPECT_GE(p.writes_waited.load(), 1u);
  std::string got(big.size(), '\0');
  std::thread reader([&] { net::read(p.client, net::buffer(got)); });
  for (int i = 0; i < 200 && !done; ++i) {
    p.ioc.restart();
    p.ioc.run_for(std::chrono::milliseconds(50));
  }
  // Whatever was sent must be read before the thread is joined.
  for (int i = 0; i < 200 && p.server->unsent() > 0; ++i) {
    p.ioc.restart();
    p.ioc.run_for(std::chrono::milliseconds(50));
  }
  // A reader that cannot get everything must not hang the test: cut it off.
  if (p.server->unsent() > 0) {
    boost::system::error_code ignored;
    p.client.shutdown(tcp::socket::shutdown_both, ignored);
  }
  reader.join();
  EXPECT_TRUE(done) << "the write never completed";
  EXPECT_TRUE(got == big) << "the bytes arrived changed or out of order";
}

TEST(BufferedSocket, TeardownSendsWhatIsGatheredThenEnds) {
  Pair p;
  p.server->cork();
  p.server->async_write_some(net::buffer(std::string("bye")), [](auto, std::size_t) {});
  bool torn_down = false;
  async_teardown(boost::beast::role_type::server, *p.server,
                 [&](boost::system::error_code ec) { torn_down = !ec; });
  p.settle();
  std::string got(3, '\0');
  net::read(p.client, net::buffer(got));
  EXPECT_EQ(got, "bye");
  // Beast's server-side teardown waits for the client's end of stream.
  p.client.shutdown(tcp::socket::shutdown_send);
  for (int i = 0; i < 50 && !torn_down; ++i) {
    p.ioc.restart();
    p.ioc.run_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(torn_down);
  char c;
  boost::system::error_code ec;
  p.client.read_some(net::buffer(&c, 1), ec);
  EXPECT_EQ(ec, net::error::eof) << "the server end was not shut down";
}

}  // namespace
}  // namespace switchboard
