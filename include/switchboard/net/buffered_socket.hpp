#pragma once

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace switchboard {

/// The next layer under each /ws connection's `beast::websocket::stream`: a TCP socket that
/// reads in large chunks and writes in batches, as Beast's `buffered_read_stream` layers a
/// socket. Beast frames every message; this layer only changes how many system calls carry
/// the frames.
///
/// - Reads take up to 64 KiB at once into a buffer the I/O thread shares, and hand Beast what
///   it asks for (its own buffer holds 1.5 KiB); the rest waits in the connection's `pending_`,
///   which an idle connection frees. Bytes the client sent behind its upgrade request start
///   there too.
/// - Writes are copied into an output buffer and complete at once (posted, as Asio requires)
///   while it holds under 64 KiB; the buffer goes out in one `send` when the connection's
///   writer says its queue is empty (`uncork`), or at once when it is over that mark. Above
///   the mark a write completes only once the socket has taken the excess, so a reader that
///   stops reading stops the writer, as a plain socket would.
///
/// Beast allows one write and one read at a time, so at most one of each is ours to hold. Used
/// from the connection's I/O thread only.
class BufferedSocket {
 public:
  /// The socket is bound to its io_context's own executor type rather than the type-erased
  /// `any_io_executor`: every operation copies the executor, and an io_context's is a pointer.
  using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                                       boost::asio::io_context::executor_type>;
  using executor_type = socket_type::executor_type;
  using next_layer_type = socket_type;
  using error_code = boost::system::error_code;

  /// Where output is sent at once rather than gathered further, and the most a write waits
  /// behind before it completes.
  static constexpr std::size_t kHighWater = 64 * 1024;
  /// The most one read takes from the socket.
  static constexpr std::size_t kReadChunk = 64 * 1024;

  /// `writes_waited` counts the times a send found the socket's buffer full.
  /// Takes over `socket`'s connection (re-registered with the same io_context).
  BufferedSocket(boost::asio::ip::tcp::socket&& socket, std::string early_data,
                 std::atomic<std::uint64_t>& writes_waited);
  ~BufferedSocket();
  BufferedSocket(BufferedSocket&&) = delete;

  /// Our own handlers (a wait, a send) hold `owner` alive while they are pending: the layer
  /// lives inside its owner, and a handler must not outlive it.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& next_layer() noexcept { return socket_; }
  const socket_type& next_layer() const noexcept { return socket_; }

  /// Output waits for uncork (or the high-water mark) instead of leaving after the current
  /// handler: the writer is about to write more.
  void cork() { corked_ = true; }
  /// The writer's queue is empty: what was gathered goes out once the thread's ready handlers
  /// have run (a message they deliver joins it), unless the writer corks again first.
  void uncork();
  /// Whether bytes read from the socket wait here for Beast.
  bool has_input() const { return pending_used_ < pending_.size(); }
  /// Bytes written and not yet taken by the socket.
  std::size_t unsent() const { return out_.size() - sent_; }

  template <class MutableBuffers, class ReadHandler>
  auto async_read_some(const MutableBuffers& buffers, ReadHandler&& handler) {
    return boost::asio::async_initiate<ReadHandler, void(error_code, std::size_t)>(
        [this](auto h, const MutableBuffers& b) { this->start_read(b, std::move(h)); }, handler,
        buffers);
  }

  template <class ConstBuffers, class WriteHandler>
  auto async_write_some(const ConstBuffers& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(error_code, std::size_t)>(
        [this](auto h, const ConstBuffers& b) { this->start_write(b, std::move(h)); }, handler,
        buffers);
  }

  /// Beast's closing handshake ends with this (found by argument-dependent lookup): what is
  /// gathered goes out first, then the TCP teardown as Beast does it for a plain socket.
  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, BufferedSocket& s,
                             TeardownHandler&& handler) {
    s.after_flush([&s, role, h = std::move(handler)](error_code, std::size_t) mutable {
      boost::beast::websocket::async_teardown(role, s.socket_, std::move(h));
    });
  }

 private:
  /// A completion handler kept until the socket takes what is gathered (type-erased: Beast's
  /// operations are move-only).
  struct Held {
    virtual ~Held() = default;
    virtual void complete(error_code ec) = 0;
  };
  /// Completes in a handler of its own: a flush that frees it may run inside an initiation.
  template <class Handler>
  struct HeldHandler final : Held {
    HeldHandler(Handler h, std::size_t n, executor_type ex)
        : handler(std::move(h)), size(n), executor(std::move(ex)) {}
    void complete(error_code ec) override {
      boost::asio::post(executor,
                        boost::beast::bind_front_handler(std::move(handler), ec, ec ? 0 : size));
    }
    Handler handler;
    std::size_t size;
    executor_type executor;
  };

  /// Completes `handler` with (ec, n) from a fresh handler, never inside the initiating call.
  template <class Handler>
  void post_completion(Handler&& handler, error_code ec, std::size_t n) {
    boost::asio::post(get_executor(),
                      boost::beast::bind_front_handler(std::forward<Handler>(handler), ec, n));
  }

  template <class MutableBuffers, class Handler>
  void start_read(const MutableBuffers& buffers, Handler handler) {
    if (boost::asio::buffer_size(buffers) == 0) return post_completion(std::move(handler), {}, 0);
    error_code ec;
    // After a short read the socket is drained: no read that would only say so. The wait's
    // EPOLL_CTL_MOD (Asio's, for every wait) reports at once what is there already, such as
    // the peer's end of stream that came with the last data.
    std::size_t n = has_input() || !drained_ ? read_now(buffers, ec) : 0;
    if (n > 0 || ec) return post_completion(std::move(handler), ec, n);
    wait_readable(buffers, std::move(handler));
  }

  /// Nothing there: waits for the socket. A wait, not a read into a buffer, so an idle
  /// connection holds none.
  template <class MutableBuffers, class Handler>
  void wait_readable(const MutableBuffers& buffers, Handler handler) {
    socket_.async_wait(socket_type::wait_read,
                       [this, keep = owner_.lock(), buffers, h = std::move(handler)](
                           error_code ec) mutable { on_readable(ec, buffers, h); });
  }

  template <class MutableBuffers, class Handler>
  void on_readable(error_code ec, const MutableBuffers& buffers, Handler& handler) {
    std::size_t n = 0;
    if (!ec) n = read_now(buffers, ec);
    if (n == 0 && !ec) {
      // Readiness without data (another reader, or a spurious wake-up): wait again.
      return wait_readable(buffers, std::move(handler));
    }
    // A completion of our own wait: the handler may run here.
    std::move(handler)(ec, n);
  }

  /// Copies what is pending, or what one non-blocking read brings, into `buffers`: the bytes
  /// copied, 0 when the socket has nothing now, or 0 with `ec` set (end of stream, a reset).
  template <class MutableBuffers>
  std::size_t read_now(const MutableBuffers& buffers, error_code& ec) {
    if (pending_.size() == pending_used_ && !fill_pending(ec)) return 0;
    auto n = boost::asio::buffer_copy(
        buffers,
        boost::asio::buffer(pending_.data() + pending_used_, pending_.size() - pending_used_));
    pending_used_ += n;
    if (pending_used_ == pending_.size()) release_pending();
    return n;
  }

  template <class ConstBuffers, class Handler>
  void start_write(const ConstBuffers& buffers, Handler handler) {
    if (failed_) return post_completion(std::move(handler), failed_, 0);
    std::size_t n = boost::asio::buffer_size(buffers);
    if (out_.capacity() == 0) take_spare_output();
    auto old = out_.size();
    out_.resize(old + n);
    boost::asio::buffer_copy(boost::asio::buffer(out_.data() + old, n), buffers);
    if (unsent() <= kHighWater) {
      post_completion(std::move(handler), {}, n);
      if (!corked_) schedule_flush();
      return;
    }
    // Over the mark: the writer waits until the socket has taken the excess.
    held_ = std::make_unique<HeldHandler<Handler>>(std::move(handler), n, get_executor());
    flush();
  }

  /// Runs `handler` once everything gathered is out (or the socket failed).
  template <class Handler>
  void after_flush(Handler handler) {
    corked_ = false;
    if (unsent() == 0 || failed_) return post_completion(std::move(handler), failed_, 0);
    flushed_ = std::make_unique<HeldHandler<Handler>>(std::move(handler), 0, get_executor());
    flush();
  }

  /// One non-blocking read into the thread's buffer, kept in pending_. False when nothing
  /// came (`ec` says whether the stream ended or failed).
  bool fill_pending(error_code& ec);
  /// Frees pending_ once it is all read.
  void release_pending();
  /// out_ takes a buffer the thread keeps for reuse, if there is one: busy connections
  /// gather into the same few buffers instead of each holding its own.
  void take_spare_output();
  /// out_ is all sent: its buffer goes back to the thread's spares (or is freed).
  void release_output();
  /// Posts a flush, unless one is posted.
  void schedule_flush();
  /// Sends what is gathered until the socket takes no more; then waits for it to be writable.
  void flush();
  /// What is gathered has gone out: held writes and a waiting teardown complete.
  void on_flushed();
  /// The socket refused a send: every held handler learns it, and every later write.
  void fail(error_code ec);

  socket_type socket_;
  std::atomic<std::uint64_t>& writes_waited_;
  std::weak_ptr<void> owner_;
  std::string pending_;  // read from the socket, not yet handed to Beast
  std::size_t pending_used_ = 0;
  std::string out_;  // written by Beast, not yet sent
  std::size_t sent_ = 0;
  std::unique_ptr<Held> held_;     // a write over the mark, waiting for the socket
  std::unique_ptr<Held> flushed_;  // a teardown, waiting for the output to go out
  bool drained_ = false;           // the last read from the socket was short: it had no more
  error_code failed_;
  bool corked_ = false;
  bool flush_posted_ = false;
  bool waiting_writable_ = false;
};

}  // namespace switchboard
