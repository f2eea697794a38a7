#include "switchboard/net/buffered_socket.hpp"

#include <memory>
#include <vector>

namespace switchboard {

namespace net = boost::asio;

namespace {
/// Reads land here first: every connection of a thread shares it, so its size costs nothing
/// per connection.
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[BufferedSocket::kReadChunk]);
  return buffer.get();
}

/// Output buffers each I/O thread keeps for reuse, and the largest one kept.
constexpr std::size_t kSpareOutputs = 128;
constexpr std::size_t kKeptOutput = 16 * 1024;

std::vector<std::string>& spare_outputs() {
  thread_local std::vector<std::string> spares;
  return spares;
}
}  // namespace

namespace {
/// `socket`'s connection, on the same io_context, with that context's own executor type.
BufferedSocket::socket_type rebind(net::ip::tcp::socket&& socket) {
  auto& context =
      static_cast<net::io_context&>(net::query(socket.get_executor(), net::execution::context));
  BufferedSocket::error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  int fd = ec ? -1 : socket.release(ec);
  BufferedSocket::socket_type out(context);
  // A socket that cannot be taken over stays closed: the session's first read fails.
  if (fd >= 0) out.assign(protocol, fd, ec);
  return out;
}
}  // namespace

BufferedSocket::BufferedSocket(net::ip::tcp::socket&& socket, std::string early_data,
                               std::atomic<std::uint64_t>& writes_waited)
    : socket_(rebind(std::move(socket))),
      writes_waited_(writes_waited),
      pending_(std::move(early_data)) {
  error_code ignored;
  // Our reads and sends try first and wait only when the socket says so.
  socket_.non_blocking(true, ignored);
  socket_.set_option(net::ip::tcp::no_delay(true), ignored);
}

BufferedSocket::~BufferedSocket() {
  release_output();
}

void BufferedSocket::take_spare_output() {
  auto& spares = spare_outputs();
  if (spares.empty()) return;
  out_.swap(spares.back());
  spares.pop_back();
}

void BufferedSocket::release_output() {
  out_.clear();
  sent_ = 0;
  if (out_.capacity() == 0) return;
  auto& spares = spare_outputs();
  if (spares.size() < kSpareOutputs && out_.capacity() <= kKeptOutput) {
    spares.push_back(std::move(out_));
  }
  // A moved-from string is empty, but only a swap promises it holds no memory.
  std::string().swap(out_);
}

bool BufferedSocket::fill_pending(error_code& ec) {
  std::size_t n = socket_.read_some(net::buffer(thread_read_buffer(), kReadChunk), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    ec = {};
    drained_ = true;
    return false;
  }
  if (ec) return false;
  drained_ = n < kReadChunk;
  pending_.assign(thread_read_buffer(), n);
  pending_used_ = 0;
  return n > 0;
}

void BufferedSocket::release_pending() {
  pending_used_ = 0;
  // An idle connection holds no input buffer.
  std::string().swap(pending_);
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
    // While the socket stays backed up, what went out does not stay in memory.
    if (sent_ >= kHighWater && unsent() > 0) {
      out_.erase(0, sent_);
      sent_ = 0;
    }
    // A writer held above the mark goes on as soon as the excess is out.
    if (held_ && unsent() <= kHighWater) std::exchange(held_, nullptr)->complete({});
  }
  on_flushed();
}

void BufferedSocket::on_flushed() {
  // An idle connection holds no output buffer.
  release_output();
  if (held_) std::exchange(held_, nullptr)->complete({});
  if (flushed_) std::exchange(flushed_, nullptr)->complete({});
}

void BufferedSocket::fail(error_code ec) {
  failed_ = ec;
  release_output();
  if (held_) std::exchange(held_, nullptr)->complete(ec);
  if (flushed_) std::exchange(flushed_, nullptr)->complete(ec);
}

}  // namespace switchboard
