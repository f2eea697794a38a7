#include "switchboard/net/buffered_socket.hpp"

#include <memory>

namespace switchboard {

namespace net = boost::asio;

namespace {
/// Reads land here first: every connection of a thread shares it, so its size costs nothing
/// per connection.
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[BufferedSocket::kReadChunk]);
  return buffer.get();
}

/// Pending input above this is not kept for reuse once read.
constexpr std::size_t kKeptPending = 4096;
}  // namespace

BufferedSocket::BufferedSocket(socket_type&& socket, std::string early_data,
                               std::atomic<std::uint64_t>& writes_waited)
    : socket_(std::move(socket)), writes_waited_(writes_waited), pending_(std::move(early_data)) {
  error_code ignored;
  // Our reads and sends try first and wait only when the socket says so.
  socket_.non_blocking(true, ignored);
  socket_.set_option(net::ip::tcp::no_delay(true), ignored);
}

BufferedSocket::~BufferedSocket() = default;

bool BufferedSocket::fill_pending(error_code& ec) {
  std::size_t n = socket_.read_some(net::buffer(thread_read_buffer(), kReadChunk), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    ec = {};
    return false;
  }
  if (ec) return false;
  bytes_read_ += n;
  pending_.assign(thread_read_buffer(), n);
  pending_used_ = 0;
  return n > 0;
}

void BufferedSocket::release_pending() {
  pending_used_ = 0;
  // A busy connection keeps a small buffer for its next read; a large message's goes.
  if (pending_.capacity() > kKeptPending) {
    std::string().swap(pending_);
  } else {
    pending_.clear();
  }
}

void BufferedSocket::uncork() {
  corked_ = false;
  schedule_flush();
}

void BufferedSocket::schedule_flush() {
  if (flush_posted_ || unsent() == 0) return;
  flush_posted_ = true;
  net::post(get_executor(), [this, keep = owner_.lock()] {
    flush_posted_ = false;
    // Corked again meanwhile: the writer's next uncork sends this with what it adds.
    if (!corked_ || unsent() > kHighWater) flush();
  });
}

void BufferedSocket::flush() {
  if (waiting_writable_ || failed_) return;
  while (unsent() > 0) {
    error_code ec;
    std::size_t n = socket_.write_some(net::buffer(out_.data() + sent_, unsent()), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
      // The socket's buffer is full: its next writable edge resumes.
      ++writes_waited_;
      waiting_writable_ = true;
      socket_.async_wait(socket_type::wait_write, [this, keep = owner_.lock()](error_code wait_ec) {
        waiting_writable_ = false;
        if (wait_ec) return fail(wait_ec);
        flush();
      });
      return;
    }
    if (ec) return fail(ec);
    sent_ += n;
    // A writer held above the mark goes on as soon as the excess is out.
    if (held_ && unsent() <= kHighWater) std::exchange(held_, nullptr)->complete({});
  }
  on_flushed();
}

void BufferedSocket::on_flushed() {
  // A large batch does not pin its memory to the connection.
  if (out_.capacity() > kHighWater) {
    std::string().swap(out_);
  } else {
    out_.clear();
  }
  sent_ = 0;
  if (held_) std::exchange(held_, nullptr)->complete({});
  if (flushed_) std::exchange(flushed_, nullptr)->complete({});
}

void BufferedSocket::fail(error_code ec) {
  failed_ = ec;
  out_.clear();
  sent_ = 0;
  if (held_) std::exchange(held_, nullptr)->complete(ec);
  if (flushed_) std::exchange(flushed_, nullptr)->complete(ec);
}

}  // namespace switchboard
