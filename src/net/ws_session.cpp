#include "switchboard/net/ws_session.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/turn_credentials.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/signaling/signaling_hub.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kCloseGuard = std::chrono::seconds(5);
/// What one read takes from the socket at most. Every session of a thread reads into the
/// same buffer, so its size costs nothing per connection.
constexpr std::size_t kReadChunk = 64 * 1024;
/// How much a piece of a frame may grow by per read, while it waits for the rest.
constexpr std::size_t kPartialChunk = 16 * 1024;
/// Reads per readiness event before yielding to other connections of the thread.
constexpr int kReadsPerWake = 4;
/// Outgoing batches above this many frames give their memory back once written.
constexpr std::size_t kKeptBatch = 16;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadChunk]);
  return buffer.get();
}

/// The socket's descriptor, out of Asio's reactor (which stops watching it), or -1.
int take_descriptor(tcp::socket& socket) {
  boost::system::error_code ec;
  int fd = socket.release(ec);
  return ec ? -1 : fd;
}
}  // namespace

WsSession::WsSession(tcp::socket&& socket, ServerContext& ctx, Identity who,
                     std::unique_ptr<ConnectionLimiter::Slot> slot, std::string early_data)
    : Peer(std::move(who)),
      fd_(take_descriptor(socket)),
      keepalive_(socket.get_executor()),
      close_guard_(socket.get_executor()),
      ctx_(ctx),
      slot_(std::move(slot)),
      reader_(ctx.settings.ws_max_message),
      partial_(std::move(early_data)),
      rate_(ctx.settings.rate_limit_per_sec, ctx.settings.rate_limit_burst),
      strikes_(1.0, ctx.settings.rate_limit_strikes),
      executor_(socket.get_executor()) {}

WsSession::~WsSession() {
  if (fd_ >= 0) ::close(fd_);
}

void WsSession::run(std::string_view client_key) {
  if (fd_ < 0) return finish();
  // Non-blocking (Asio made it so for the upgrade; said here, since a blocking recv would
  // stall the thread), and without Nagle's delay.
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) return finish();
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto answer = std::make_shared<std::string>();
  answer->append(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  answer->append(ws::accept_key(client_key));
  answer->append("\r\nServer: switchboard/").append(kVersion).append("\r\n\r\n");
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Outgoing{std::move(answer), ws::Opcode::text, true});
  }
  // The 101 answer and Welcome leave in one write.
  spdlog::debug("ws user {} ({}) connected", user_id(), identity().username);
  deliver(make_welcome(user_id(), identity().username,
                       ice_servers_for(ctx_.settings, user_id(), unix_now())));
  ctx_.hub.connect(shared_from_this());
  connected_ = true;
  // A key rotated while this connection was being set up must not slip through.
  if (ctx_.credentials.was_revoked(identity().key_hash)) {
    close(CloseCode::key_revoked, "API key revoked");
  } else if (ctx_.shutting_down) {
    close(CloseCode::going_away, "server shutting down");
  }
  last_heard_ = Clock::now();
  arm_keepalive(last_heard_ + std::chrono::seconds(ctx_.settings.ws_ping_interval));
  // Frames the client sent right behind its upgrade request came with it; more may sit in
  // the socket already, announced while nobody waited: read before waiting.
  if (!partial_.empty()) partial_.erase(0, consume(partial_));
  on_readable();
}

void WsSession::on_ready(std::uint32_t events) {
  // The peer's end of stream (or an error) came with data, or before: no edge of its own
  // follows it, so reads go on until recv says so, short or not.
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hung_up_ = true;
  if ((events & EPOLLOUT) && write_blocked_) on_writable();
  // One read chain at a time: a continuation already posted reads whatever this announces,
  // and a move that has begun (maybe just now, at the idle point of the write above) has
  // one pending that ends in complete_move. A second chain could run on after the move.
  if (read_posted_ || moving_ || finished_) return;
  if (events & ~std::uint32_t{EPOLLOUT}) on_readable();
}

void WsSession::wait_readable() {
  // A wait, not a read: an idle connection holds no buffer. The set reports edges; the
  // socket was just drained, and data arriving since (or while we read) makes a new edge.
  if (finished_) return;
  waiting_ = true;
  if (watch_token_) return;
  readiness_ = &ReadinessSet::of(executor_);
  watch_token_ = readiness_->watch(fd_, shared_from_this());
  if (!watch_token_) finish();  // logged by the set
}

void WsSession::stop_watching() {
  waiting_ = false;
  if (!watch_token_) return;
  readiness_->unwatch(fd_, *watch_token_);
  watch_token_.reset();
}

void WsSession::on_readable() {
  waiting_ = false;
  for (int round = 0; round < kReadsPerWake; ++round) {
    if (finished_) return;  // a message read ended the connection (a failed write, say)
    auto read = partial_.empty() ? read_into_thread_buffer() : read_into_partial();
    if (read == Read::ended) return finish();
    // Readiness is edge-triggered: wait only once the socket is known to be empty. A short
    // read says so (data arriving after it makes a new edge), unless the stream's end came
    // with it (see on_ready).
    if (read == Read::drained) return moving_ ? complete_move() : wait_readable();
  }
  // More is waiting, but other connections of this thread get their turn first.
  read_posted_ = true;
  net::post(executor_, [self = shared_from_this()] {
    self->read_posted_ = false;
    self->on_readable();
  });
}

WsSession::Read WsSession::receive(char* into, std::size_t size, std::size_t& got) {
  got = 0;
  for (;;) {
    ssize_t n = ::recv(fd_, into, size, 0);
    if (n > 0) {
      got = static_cast<std::size_t>(n);
      return Read::more;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::drained;
    return Read::ended;  // end of stream or a reset: the peer is gone
  }
}

WsSession::Read WsSession::read_into_thread_buffer() {
  char* buffer = thread_read_buffer();
  std::size_t n = 0;
  if (auto read = receive(buffer, kReadChunk, n); read != Read::more) return read;
  heard();
  std::size_t used = consume(std::span<char>(buffer, n));
  // The start of a frame whose rest is still on its way waits in the session's own memory.
  if (used < n) partial_.assign(buffer + used, n - used);
  return n < kReadChunk && !hung_up_ ? Read::drained : Read::more;
}

WsSession::Read WsSession::read_into_partial() {
  std::size_t old = partial_.size();
  partial_.resize(old + kPartialChunk);
  std::size_t n = 0;
  auto read = receive(partial_.data() + old, kPartialChunk, n);
  partial_.resize(old + n);
  if (read != Read::more) return read;
  heard();
  partial_.erase(0, consume(partial_));
  // A large message must not pin its buffer to an idle connection.
  if (partial_.empty()) std::string().swap(partial_);
  return n < kPartialChunk && !hung_up_ ? Read::drained : Read::more;
}

void WsSession::heard() {
  last_heard_ = Clock::now();
  ping_sent_ = false;
}

std::size_t WsSession::consume(std::span<char> unread) {
  if (close_begun_) return unread.size();  // after our close frame, input is only drained
  std::size_t used = 0;
  while (used < unread.size()) {
    auto step = reader_.next(unread.subspan(used));
    used += step.consumed;
    const auto& e = step.event;
    switch (e.kind) {
      case ws::Event::Kind::need_more:
        return used;
      case ws::Event::Kind::fragment:
      case ws::Event::Kind::pong:
        break;
      case ws::Event::Kind::text:
        on_text(e.payload);
        reader_.message_handled();
        break;
      case ws::Event::Kind::ping:
        enqueue_control(ws::Opcode::pong, std::string(e.payload));
        break;
      case ws::Event::Kind::close:
        on_peer_close(e.code);
        return unread.size();
      case ws::Event::Kind::fail:
        spdlog::debug("ws user {}: {} ({})", user_id(), e.payload, e.code);
        // A broken peer gets its close frame next, nothing else.
        begin_close(e.code, std::string(e.payload), Queued::drop);
        return unread.size();
    }
    if (close_begun_) return unread.size();
  }
  return used;
}

void WsSession::on_text(std::string_view text) {
  // Read (to reach the peer's close frame) and dropped. Not under mutex_, to save a lock per
  // message: a close that begins while the message is handled is one that began just after.
  if (closing_.load(std::memory_order_acquire)) return;
  // The time of the read that brought the message: one clock reading per read, not per
  // message (the frames of one read arrived together anyway).
  if (!rate_.try_take(last_heard_)) {
    deliver(
        make_error({SignalError::rate_limited, describe(SignalError::rate_limited), std::nullopt}));
    if (!strikes_.try_take()) {
      spdlog::warn("ws user {}: closed for flooding", user_id());
      close(CloseCode::policy, "message rate limit exceeded");
    }
    return;
  }
  spdlog::trace("ws user {} sent {} bytes", user_id(), text.size());
  try {
    ctx_.hub.handle(*this, text);
  } catch (const std::exception& e) {
    spdlog::error("ws user {}: message handling failed: {}", user_id(), e.what());
    close(CloseCode::internal_error, "internal error");
  }
}

void WsSession::deliver(SharedText message) {
  bool start = false;
  bool overflow = false;
  net::any_io_executor executor;
  {
    std::lock_guard lock(mutex_);
    executor = executor_;
    if (closing_) return;
    if (queued_messages_ >= ctx_.settings.ws_send_queue) {
      overflow = true;
    } else {
      queue_.push_back(Outgoing{std::move(message)});
      ++queued_messages_;
      start = !writing_;
      writing_ = true;
    }
  }
  if (overflow) {
    spdlog::warn("ws user {}: closed as too slow a reader", user_id());
    // What it has not read by now it will not read: drop the queue rather than wait on it.
    start_close(CloseCode::policy, "too slow to read its messages", false);
  } else if (start) {
    // Not at once, even on this connection's own thread (where the sender usually is, since
    // a room's members share one): the write carries everything the thread's other work of
    // the moment delivers to this connection, in one system call. (The connection cannot
    // move before this write has run: a move waits for writing_ to clear.)
    write_soon(executor, WriteStep::start);
  }
}

void WsSession::enqueue_control(ws::Opcode opcode, std::string payload) {
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || close_queued_) return;
    auto shared = std::make_shared<const std::string>(std::move(payload));
    // A peer that pings without reading must not grow the queue: one pong waits at most,
    // answering the latest ping (RFC 6455 section 5.5.3 allows exactly that).
    if (opcode == ws::Opcode::pong && queued_pong_) {
      queue_[*queued_pong_].payload = std::move(shared);
      return;
    }
    if (opcode == ws::Opcode::pong) queued_pong_ = queue_.size();
    queue_.push_back(Outgoing{std::move(shared), opcode});
    start = !writing_;
    writing_ = true;
  }
  // Later, as deliver() does: the pongs for a burst of pings read together coalesce into
  // the one queued pong, instead of each going out in a write of its own.
  if (start) write_soon(executor_, WriteStep::start);
}

void WsSession::do_write() {
  {
    std::unique_lock lock(mutex_);
    if (queue_.empty() || finished_) {
      writing_ = false;
      lock.unlock();
      // Idle: the moment a move that waited for this write can begin.
      try_move();
      return;
    }
    batch_.swap(queue_);
    queued_messages_ = 0;
    queued_pong_.reset();
  }
  iov_.clear();
  iov_next_ = 0;
  for (auto& out : batch_) {
    if (!out.raw) {
      out.header_size = static_cast<std::uint8_t>(
          ws::write_frame_header(out.opcode, out.payload->size(), out.header));
      iov_.push_back({out.header.data(), out.header_size});
    }
    // No empty buffers: a send that moves nothing would tell nothing apart from a stall.
    if (!out.payload->empty()) {
      iov_.push_back({const_cast<char*>(out.payload->data()), out.payload->size()});
    }
  }
  // The batch is out; it completes at the round's end (or in a posted handler), as Asio
  // completed our writes, and writing_ stays set until then: what the round's later reads
  // deliver to the connection joins the next batch. Completing at once, mid-round, made more,
  // smaller writes at 500 pairs.
  if (send_batch()) write_soon(executor_, WriteStep::complete_batch);
}

void WsSession::write_soon(const net::any_io_executor& executor, WriteStep step) {
  if (ReadinessSet::after_round(executor, shared_from_this())) {
    round_step_ = step;  // after_round accepts on this connection's own thread only
    return;
  }
  net::post(executor, [self = shared_from_this(), step] { self->take_step(step); });
}

void WsSession::on_round_end() {
  take_step(round_step_);
}

void WsSession::take_step(WriteStep step) {
  if (step == WriteStep::complete_batch && !batch_sent()) return;
  do_write();
}

bool WsSession::send_batch() {
  while (iov_next_ < iov_.size()) {
    msghdr message{};
    message.msg_iov = iov_.data() + iov_next_;
    message.msg_iovlen = std::min<std::size_t>(iov_.size() - iov_next_, IOV_MAX);
    ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The socket's buffer is full: the set's next writable edge resumes (on_writable).
      write_blocked_ = true;
      ++ctx_.writes_waited;
      return false;
    }
    if (n <= 0) {
      write_failed();
      return false;
    }
    // Past what went out: whole buffers, then into the first one left.
    auto sent = static_cast<std::size_t>(n);
    while (iov_next_ < iov_.size() && sent >= iov_[iov_next_].iov_len) {
      sent -= iov_[iov_next_].iov_len;
      ++iov_next_;
    }
    if (sent > 0) {
      iov_[iov_next_].iov_base = static_cast<char*>(iov_[iov_next_].iov_base) + sent;
      iov_[iov_next_].iov_len -= sent;
    }
  }
  return true;
}

void WsSession::on_writable() {
  write_blocked_ = false;
  if (finished_) return;
  if (send_batch()) write_soon(executor_, WriteStep::complete_batch);
}

bool WsSession::batch_sent() {
  bool wrote_close = false;
  for (const auto& out : batch_) wrote_close = wrote_close || out.opcode == ws::Opcode::close;
  if (batch_.capacity() > kKeptBatch) {
    std::vector<Outgoing>().swap(batch_);
    std::vector<iovec>().swap(iov_);
  } else {
    batch_.clear();
  }
  if (!wrote_close) return true;
  close_sent_ = true;
  // The close handshake's last word from us: the peer answers with its close frame and ends
  // the stream, which the drain of our reads sees.
  ::shutdown(fd_, SHUT_WR);
  std::lock_guard lock(mutex_);
  writing_ = false;
  return false;
}

void WsSession::write_failed() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    writing_ = false;
    clear_queue();
  }
  finish();  // the connection is broken: it ends now
}

void WsSession::arm_keepalive(Clock::time_point at) {
  keepalive_.expires_at(at);
  keepalive_.async_wait([self = shared_from_this(), armed_on = keepalive_.get_executor()](auto ec) {
    // A timer that fired just as the connection moved to another thread ran out here; the
    // connection is served, and pinged, there now.
    if (!ec && self->executor() != armed_on) return;
    self->on_keepalive(ec);
  });
}

void WsSession::on_keepalive(boost::system::error_code ec) {
  if (ec || finished_ || close_begun_) return;
  // Reads only note the time; the timer fires once per interval, never re-armed per message.
  const auto interval = std::chrono::seconds(ctx_.settings.ws_ping_interval);
  const auto now = Clock::now();
  if (now - last_heard_ < interval) return arm_keepalive(last_heard_ + interval);
  if (ping_sent_) {
    spdlog::debug("ws user {}: no answer to a ping, dropped", user_id());
    return finish();
  }
  ping_sent_ = true;
  enqueue_control(ws::Opcode::ping, {});
  arm_keepalive(now + interval);
}

void WsSession::close(CloseCode code, std::string_view reason) {
  start_close(code, reason, true);
}

void WsSession::start_close(CloseCode code, std::string_view reason, bool flush) {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    closing_ = true;  // from now on deliver() drops messages
    if (!flush) {
      clear_queue();
    }
  }
  on_own_thread([self = shared_from_this(), code, r = std::string(reason)] {
    self->begin_close(static_cast<std::uint16_t>(code), r, Queued::send_first);
  });
}

void WsSession::begin_close(std::uint16_t code, const std::string& reason, Queued queued) {
  if (finished_ || close_begun_) return;
  close_begun_ = true;
  keepalive_.cancel();
  // It will receive nothing more, so its rooms learn now that it is gone, not when the
  // close handshake (or the guard) finishes.
  leave_hub();
  // A peer that neither drains its socket nor answers the close frame is cut off.
  close_guard_.expires_after(kCloseGuard);
  // (No move follows a close that has begun, so this guard fires on the connection's thread.)
  close_guard_.async_wait([self = shared_from_this()](auto ec) {
    if (!ec) self->finish();
  });
  std::string payload =
      code == ws::kCloseNoStatus ? std::string() : ws::close_payload(code, reason);
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    close_queued_ = true;
    if (queued == Queued::drop) clear_queue();
    queue_.push_back(
        Outgoing{std::make_shared<const std::string>(std::move(payload)), ws::Opcode::close});
    start = !writing_;
    writing_ = true;
  }
  if (start) do_write();
}

void WsSession::on_peer_close(std::uint16_t code) {
  if (close_begun_) return;  // ours is out or on its way: the stream's end follows
  // Echo the peer's code (RFC 6455 section 5.5.1). It has said its last word: what it did
  // not get it will not read.
  begin_close(code, {}, Queued::drop);
}

void WsSession::clear_queue() {
  queue_.clear();
  queued_messages_ = 0;
  queued_pong_.reset();
}

void WsSession::finish() {
  if (finished_) return;
  finished_ = true;
  stop_watching();  // before the descriptor closes: the set holds it by number
  keepalive_.cancel();
  close_guard_.cancel();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    clear_queue();
  }
  leave_hub();
  batch_.clear();  // a write that had to wait never completes now
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

net::any_io_executor WsSession::executor() const {
  std::lock_guard lock(mutex_);
  return executor_;
}

void WsSession::on_own_thread(std::function<void()> work) {
  auto executor = this->executor();
  net::dispatch(executor, [self = shared_from_this(), executor, work = std::move(work)]() mutable {
    // Handed to a thread the connection has left since: follow it. The move posted on_moved
    // there before it published the new thread, so this comes after on_moved, unless it is
    // dispatched from that very thread, where it may run first: the work (a close) then
    // queues its frame, which on_moved sends.
    if (self->executor() != executor) return self->on_own_thread(std::move(work));
    work();
  });
}

void WsSession::settle_near(const Peer& host) {
  const auto* near = dynamic_cast<const WsSession*>(&host);
  if (near == nullptr || near == this || finished_ || close_begun_) return;
  if (near->executor() == executor_) {
    move_near_.reset();
    return;
  }
  move_near_ = near->weak_from_this();
  try_move();
}

void WsSession::try_move() {
  if (move_near_.expired() || moving_ || finished_ || close_begun_) return;
  {
    std::lock_guard lock(mutex_);
    if (writing_ || closing_) return;  // do_write's idle point tries again
    writing_ = true;                   // deliveries wait in the queue until on_moved
  }
  moving_ = true;
  keepalive_.cancel();
  // A drained connection waiting for its next edge moves next (posted, as a cancelled wait
  // would be); otherwise on_readable is running (this came from a message it read) or
  // posted, and completes the move once drained.
  if (waiting_) {
    stop_watching();
    net::post(executor_, [self = shared_from_this()] {
      if (self->moving_ && !self->finished_) self->complete_move();
    });
  }
}

void WsSession::complete_move() {
  stop_watching();  // the set is this thread's: watched anew where the connection ends up
  // Our close frame may be queued and its guard armed here, or a close is on its way here:
  // finish where we are. The host is asked where it is now, since it may have moved too.
  auto near = move_near_.lock();
  move_near_.reset();
  if (close_begun_ || !near) return abandon_move();
  auto target = near->executor();
  if (target == executor_) return abandon_move();
  bool closing = false;
  {
    std::lock_guard lock(mutex_);
    closing = closing_;
  }
  if (closing) return abandon_move();
  // The descriptor stays as it is (out of this thread's set, into the target's from
  // on_moved); timers belong to an io_context, so they are made anew there.
  keepalive_ = net::steady_timer(target);
  close_guard_ = net::steady_timer(target);
  ++ctx_.connections_moved;
  spdlog::debug("ws user {} moved to its room host's thread", user_id());
  std::lock_guard lock(mutex_);
  executor_ = target;
  // Posted before the new thread is published (a post never runs the handler in place):
  // whatever is handed to the connection there from now on comes after on_moved.
  net::post(target, [self = shared_from_this()] { self->on_moved(); });
}

void WsSession::abandon_move() {
  moving_ = false;
  move_near_.reset();
  on_moved();
}

void WsSession::on_moved() {
  moving_ = false;
  if (finished_) return;
  if (!close_begun_) {
    arm_keepalive(last_heard_ + std::chrono::seconds(ctx_.settings.ws_ping_interval));
  }
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    start = !queue_.empty();
    writing_ = start;
  }
  if (start) do_write();
  on_readable();  // what arrived meanwhile, then a wait
}

void WsSession::leave_hub() {
  if (!connected_) return;
  connected_ = false;
  ctx_.hub.disconnect(*this);
  spdlog::debug("ws user {} disconnected", user_id());
}

}  // namespace switchboard
