#include "switchboard/net/ws_session.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cstring>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>

#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/turn_credentials.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/net/keepalive_ticker.hpp"
#include "switchboard/signaling/hub.hpp"
#include "switchboard/util/clock.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/util/utf8.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
/// How long a close handshake (ours or the peer's) may take before the socket is cut.
constexpr auto kCloseGuard = std::chrono::seconds(5);
/// The highest close code RFC 6455 defines (4000-4999 are for private use).
constexpr std::uint16_t kLastDefinedCloseCode = 4999;
/// Message buffers each I/O thread keeps for connections between messages, and the largest.
constexpr std::size_t kSpareMessageBuffers = 128;
constexpr std::size_t kKeptMessageBuffer = 16 * 1024;

std::vector<beast::flat_buffer>& spare_message_buffers() {
  thread_local std::vector<beast::flat_buffer> spares;
  return spares;
}

/// Written batches above this many items give their memory back.
constexpr std::size_t kKeptBatch = 16;

/// Whether `text`, UTF-8 but for its end, does not stop inside a sequence.
bool ends_in_whole_utf8(std::string_view text) {
  if (text.empty()) return true;
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  const auto* last = end - 1;
  // Back over continuation bytes to the lead byte of the last sequence (at most three).
  for (int i = 0; i < 3 && last > begin && (*last & 0xC0) == 0x80; ++i) --last;
  return utf8_sequence(last, end) == static_cast<std::size_t>(end - last);
}

/// Normal ends of a connection, not worth more than a debug line.
bool normal_end(boost::system::error_code ec) {
  return ec == websocket::error::closed || ec == net::error::eof ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::bad_descriptor;
}
}  // namespace

WsSession::WsSession(tcp::socket&& socket, ServerContext& ctx, Identity who,
                     std::unique_ptr<ConnectionLimiter::Slot> slot, std::string early_data,
                     std::optional<ResumeRequest> resume, std::string client_address)
    : who_(std::move(who)),
      resume_(std::move(resume)),
      client_address_(std::move(client_address)),
      ws_(std::move(socket), std::move(early_data), ctx.writes_waited),
      ctx_(ctx),
      slot_(std::move(slot)),
      rate_(ctx.settings.rate_limit_per_sec, ctx.settings.rate_limit_burst),
      strikes_(1.0, ctx.settings.rate_limit_strikes),
      metrics_(ctx.metrics.local()) {}

WsSession::~WsSession() = default;

void WsSession::run(Request request) {
  ws_.next_layer().set_owner(weak_from_this());
  // Beast's idle timer stays off (the thread's keepalive ticker looks once a second instead of
  // a timer re-armed per read); its handshake timer bounds the opening handshake and our
  // close. A close Beast begins itself is bounded by the ticker (on_tick).
  ws_.set_option(
      websocket::stream_base::timeout{kCloseGuard, websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, std::string("switchboard/") + kVersion);
  }));
  ws_.read_message_max(ctx_.settings.ws_max_message);
  // One frame per message: Beast writes its header and our payload in one gathered write.
  ws_.auto_fragment(false);
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    heard_ = true;
    if (kind == websocket::frame_type::close) on_peer_close();
  });
  // The 101 answer and Welcome leave in one write: the socket is corked until the queue
  // (Welcome) is written.
  ws_.next_layer().cork();
  request_ = std::make_unique<Request>(std::move(request));
  ws_.async_accept(*request_, [self = shared_from_this()](auto ec) { self->on_accept(ec); });
}

void WsSession::on_accept(boost::system::error_code ec) {
  request_.reset();
  if (ec) {
    log_debug("ws upgrade failed",
              {{"user_id", user_id()}, {"remote_addr", client_address_}, {"error", ec.message()}});
    return finish();
  }
  // The Welcome (and, on a resume, what the client missed) is queued by the attach.
  auto attached = ctx_.sessions.attach(who_, resume_, shared_from_this(),
                                       ice_servers_for(ctx_.settings, user_id(), unix_seconds()));
  if (resume_) metrics_.resumes[attached.resumed ? 0 : 1].add();
  resume_.reset();
  session_ = std::move(attached.session);
  connected_ = true;
  log_debug(
      attached.resumed ? "ws connected, session resumed" : "ws connected",
      {{"user_id", user_id()}, {"username", who_.username}, {"remote_addr", client_address_}});
  // The session holds the identity now; the connection keeps the user id for its logs.
  who_ = Identity{who_.user_id, {}, {}};
  // A key rotated while this connection was being set up must not slip through.
  if (ctx_.credentials.was_revoked(session_->identity().key_hash)) {
    session_->close(CloseCode::key_revoked, "API key revoked");
  } else if (ctx_.shutting_down) {
    session_->close(CloseCode::going_away, "server shutting down");
  }
  // Connecting counts as being heard from: the first ping comes after a silent interval.
  heard_ = true;
  next_keepalive_ = Clock::now() + std::chrono::seconds(ctx_.settings.ws_ping_interval);
  KeepaliveTicker::of(ws_.get_executor()).watch(shared_from_this());
  wait_for_message();
}

void WsSession::wait_for_message() {
  if (close_started_) return;  // the close reads on by itself; its end finishes the session
  // More has been read from the socket already: the next message is (most likely) there.
  if (ws_.next_layer().has_input()) return read_message();
  // A read of no bytes: Beast reads the next frame's header (answering pings on the way) into
  // its own buffer, so a connection waiting for its next message holds no message buffer.
  release_message_buffer();
  // Empty, but not null: Beast's UTF-8 check does arithmetic on the pointer it is given.
  static char no_bytes[1];
  ws_.async_read_some(net::buffer(no_bytes, 0),
                      net::bind_cancellation_slot(
                          read_cancel_.slot(), [self = shared_from_this()](auto ec, std::size_t) {
                            if (ec) return self->on_read(ec);
                            self->heard_ = true;
                            // A message of no bytes is whole already; anything else is read on.
                            if (self->ws_.is_message_done()) return self->on_read(ec);
                            if (self->close_started_) return;  // the close drains it
                            self->read_message();
                          }));
}

void WsSession::read_message() {
  take_message_buffer();
  ws_.async_read(in_, net::bind_cancellation_slot(
                          read_cancel_.slot(), [self = shared_from_this()](auto ec, std::size_t) {
                            self->on_read(ec);
                          }));
}

void WsSession::take_message_buffer() {
  auto& spares = spare_message_buffers();
  if (in_.capacity() > 0 || spares.empty()) return;
  in_ = std::move(spares.back());
  spares.pop_back();
}

void WsSession::release_message_buffer() {
  in_.clear();
  if (in_.capacity() == 0) return;
  auto& spares = spare_message_buffers();
  if (spares.size() < kSpareMessageBuffers && in_.capacity() <= kKeptMessageBuffer) {
    spares.push_back(std::move(in_));
  }
  in_ = beast::flat_buffer();
}

void WsSession::on_read(boost::system::error_code ec) {
  if (ec) {
    // Beast has sent the close frame a broken peer earns (1002, 1007, 1009) or answered the
    // peer's, and torn the connection down.
    if (normal_end(ec)) {
      log_debug("ws connection ended", {{"user_id", user_id()}, {"error", ec.message()}});
    } else {
      log_debug("ws closed", {{"user_id", user_id()}, {"error", ec.message()}});
    }
    // A protocol violation Beast answered with a close frame ends the session; a socket
    // that failed leaves it for a resume (finish).
    if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) {
      if (close_code_ == 0 && ec != websocket::error::closed) {
        close_code_ = ec == websocket::error::message_too_big     ? 1009
                      : ec == websocket::error::bad_frame_payload ? 1007
                                                                  : 1002;
      }
      leave_hub(false);
    }
    return finish();
  }
  heard_ = true;
  if (!ws_.got_text()) {
    in_.clear();
    start_close(CloseCode::unsupported_data, "binary messages are not supported", false);
  } else {
    auto data = in_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    // Beast checks UTF-8 as it reads, but not that the last sequence is whole when the final
    // fragment is empty.
    if (!ends_in_whole_utf8(text)) {
      in_.clear();
      start_close(CloseCode::invalid_utf8, "invalid UTF-8", false);
      return wait_for_message();
    }
    on_text(text);
    in_.clear();
  }
  // Reading goes on after a close has begun: Beast's close handshake needs the peer's answer.
  wait_for_message();
}

void WsSession::on_text(std::string_view text) {
  // Read (to reach the peer's close frame) and dropped. Not under mutex_, to save a lock per
  // message: a close that begins while the message is handled is one that began just after.
  if (closing_.load(std::memory_order_acquire)) return;
  if (!rate_.try_take()) {
    metrics_.count_error(SignalError::rate_limited);
    session_->deliver(
        make_error({SignalError::rate_limited, describe(SignalError::rate_limited), std::nullopt}));
    if (!strikes_.try_take()) {
      log_warn("ws closed for flooding",
               {{"user_id", user_id()}, {"remote_addr", client_address_}});
      session_->close(CloseCode::policy, "message rate limit exceeded");
    }
    return;
  }
  log_event(spdlog::level::trace, "ws message received",
            {{"user_id", user_id()}, {"bytes", text.size()}});
  try {
    auto handled = ctx_.hub.handle(*session_, text);
    metrics_.count_client_message(metric_labels::client_type(handled.msg_type));
    if (handled.error) metrics_.count_error(*handled.error);
    if (handled.relayed) metrics_.count_relay(static_cast<MsgType>(*handled.msg_type));
  } catch (const std::exception& e) {
    log_error("ws message handling failed", {{"user_id", user_id()}, {"error", e.what()}});
    session_->close(CloseCode::internal_error, "internal error");
  }
}

void WsSession::carry(std::uint64_t seq, SharedText message) {
  bool start = false;
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    if (queued_messages_ < ctx_.settings.ws_send_queue) {
      ++queued_messages_;
      start = push_locked(
          Outgoing{std::move(message), Outgoing::Kind::text, CloseCode::going_away, seq});
    } else {
      closing_ = true;  // nothing more joins the queue, which goes
      clear_queue();
      start = false;
      overflow = true;
    }
  }
  if (start) return start_writing();
  if (!overflow) return;
  // A full queue: what it has not read by now it will not read. Drop the queue rather than
  // wait on it.
  log_warn("ws closed as too slow a reader",
           {{"user_id", user_id()}, {"remote_addr", client_address_}});
  // Posted, not dispatched: carry() runs under the session's lock, which the close takes.
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->drop_unsent_ = true;
    self->begin_close(CloseCode::policy, "too slow to read its messages");
  });
}

void WsSession::enqueue(Outgoing out) {
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    start = push_locked(std::move(out));
  }
  if (start) start_writing();
}

bool WsSession::push_locked(Outgoing out) {
  if (close_queued_) return false;
  close_queued_ = out.kind == Outgoing::Kind::close;
  queue_.push_back(std::move(out));
  bool start = !writing_;
  writing_ = true;
  return start;
}

void WsSession::start_writing() {
  // On this connection's thread the write starts here (it is corked: what the thread's other
  // handlers of the moment deliver joins it); from elsewhere it is handed over.
  net::dispatch(ws_.get_executor(), [self = shared_from_this()] {
    self->ws_.next_layer().cork();
    self->do_write();
  });
}

void WsSession::do_write() {
  Outgoing* next = nullptr;
  while (next == nullptr) {
    if (batch_next_ == batch_.size()) {
      // The batch is written: the next one is whatever was queued meanwhile.
      batch_.size() > kKeptBatch ? std::vector<Outgoing>().swap(batch_) : batch_.clear();
      batch_next_ = 0;
      std::lock_guard lock(mutex_);
      if (queue_.empty() || finished_) {
        writing_ = false;
        // An idle connection holds no batch either.
        std::vector<Outgoing>().swap(batch_);
        ws_.next_layer().uncork();
        return;
      }
      // The limit counts these until each is written.
      batch_.swap(queue_);
    }
    Outgoing& item = batch_[batch_next_++];
    if (item.kind == Outgoing::Kind::text) {
      std::lock_guard lock(mutex_);
      --queued_messages_;
      // A close that drops the queue drops what the writer had taken from it too.
      if (drop_unsent_) continue;
    }
    next = &item;
  }
  // The batch holds the payload until the write completes.
  auto done = [self = shared_from_this()](auto ec, auto...) { self->on_write(ec); };
  switch (next->kind) {
    case Outgoing::Kind::text: {
      const std::string& text = *next->payload;
      if (next->seq == 0 || text.empty())
        return ws_.async_write(net::buffer(text), std::move(done));
      // `{"seq":N,` and the message after its `{`: one frame, gathered, nothing copied.
      static constexpr std::string_view kOpen = "{\"seq\":";
      std::memcpy(seq_prefix_, kOpen.data(), kOpen.size());
      auto end =
          std::to_chars(seq_prefix_ + kOpen.size(), seq_prefix_ + sizeof seq_prefix_ - 1, next->seq)
              .ptr;
      *end++ = ',';
      std::array<net::const_buffer, 2> parts{
          net::buffer(seq_prefix_, static_cast<std::size_t>(end - seq_prefix_)),
          net::buffer(text.data() + 1, text.size() - 1)};
      return ws_.async_write(parts, std::move(done));
    }
    case Outgoing::Kind::ping:
      return ws_.async_ping({}, std::move(done));
    case Outgoing::Kind::close:
      // The close handshake ends in Beast's teardown; the read sees its end and finishes.
      ws_.next_layer().uncork();
      close_started_ = true;
      return ws_.async_close(
          websocket::close_reason(static_cast<websocket::close_code>(next->code), *next->payload),
          net::bind_cancellation_slot(close_cancel_.slot(), [self = shared_from_this()](auto ec) {
            if (ec && !normal_end(ec)) {
              log_debug("ws close failed", {{"user_id", self->user_id()}, {"error", ec.message()}});
            }
            self->finish();
          }));
  }
}

void WsSession::on_write(boost::system::error_code ec) {
  if (ec) {
    if (!normal_end(ec))
      log_debug("ws write failed", {{"user_id", user_id()}, {"error", ec.message()}});
    return finish();
  }
  do_write();
}

bool WsSession::on_tick(Clock::time_point now) {
  if (finished_) return false;
  // Beast began a close itself (the peer's close frame, or a broken frame it answered with
  // 1002, 1007 or 1009): the rooms learn now, and the same bound applies as to ours.
  if (!close_begun_ && !ws_.is_open()) {
    close_begun_ = true;
    leave_hub(false);
    close_deadline_ = now + kCloseGuard;
  }
  if (close_begun_) {
    // A peer that neither drains its socket nor lets our writes finish is cut off.
    if (now < close_deadline_) return true;
    log_debug("ws close took too long, dropped", {{"user_id", user_id()}});
    finish();
    return false;
  }
  if (now < next_keepalive_) return true;
  next_keepalive_ = now + std::chrono::seconds(ctx_.settings.ws_ping_interval);
  // Reads only set a flag: nothing is re-armed per message.
  if (std::exchange(heard_, false)) {
    ping_sent_ = false;
    return true;
  }
  if (ping_sent_) {
    log_debug("ws no answer to a ping, dropped", {{"user_id", user_id()}});
    finish();
    return false;
  }
  ping_sent_ = true;
  enqueue(Outgoing{nullptr, Outgoing::Kind::ping});
  return true;
}

void WsSession::drop(CloseCode code, std::string_view reason) {
  start_close(code, reason, true);
}

void WsSession::start_close(CloseCode code, std::string_view reason, bool flush) {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    closing_ = true;  // from now on deliver() drops messages
    if (!flush) clear_queue();
  }
  net::dispatch(ws_.get_executor(),
                [self = shared_from_this(), code, r = std::string(reason), flush] {
                  if (!flush) self->drop_unsent_ = true;
                  self->begin_close(code, r);
                });
}

void WsSession::begin_close(CloseCode code, const std::string& reason) {
  if (finished_ || close_begun_) return;
  close_begun_ = true;
  if (close_code_ == 0) close_code_ = static_cast<std::uint16_t>(code);
  // It will receive nothing more, so its rooms learn now that it is gone, not when the
  // close handshake finishes. A close of ours ends the session: no resume.
  leave_hub(false);
  // The thread's ticker cuts off a peer that neither drains its socket nor answers.
  close_deadline_ = Clock::now() + kCloseGuard;
  enqueue(Outgoing{std::make_shared<const std::string>(reason), Outgoing::Kind::close, code});
}

void WsSession::on_peer_close() {
  if (close_code_ == 0) {
    // No code in the peer's close frame is 1005 (RFC 6455 section 7.1.5).
    auto code = static_cast<std::uint16_t>(ws_.reason().code);
    close_code_ = code == 0 ? 1005 : code;
  }
  // RFC 6455 section 7.4.2 defines no code above 4999, and Beast would echo one as if it
  // meant something: such a peer is dropped instead (Autobahn 7.13.1 and 7.13.2 accept that).
  if (ws_.reason().code > kLastDefinedCloseCode) {
    log_debug("ws close code undefined, dropped",
              {{"user_id", user_id()}, {"close_code", static_cast<int>(ws_.reason().code)}});
    leave_hub(false);  // it did say goodbye
    return finish();
  }
  {
    std::lock_guard lock(mutex_);
    // Beast answers at once: it has said its last word, and what it did not get it will
    // not read.
    closing_ = true;
    clear_queue();
  }
  // The client said goodbye: its session ends (no resume).
  leave_hub(false);
}

void WsSession::finish() {
  if (finished_) return;
  finished_ = true;
  // A connection that was a WebSocket ends with the code sent or received first; one lost
  // without a close frame counts as 1006 (RFC 6455 section 7.1.5).
  if (session_) metrics_.count_close(close_code_ != 0 ? close_code_ : 1006);
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    clear_queue();
  }
  // Ended without a close handshake (a close would have let go of the session already): the
  // connection was lost, and its session waits for a resume.
  leave_hub(true);
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);
  // A read and our close can wait on each other inside Beast (a read that fails after our
  // close frame went out wants to send one of its own): neither is a socket operation, so the
  // close above does not end them, and each holds this session. Cancelled, both complete.
  read_cancel_.emit(net::cancellation_type::terminal);
  close_cancel_.emit(net::cancellation_type::terminal);
}

void WsSession::leave_hub(bool lost) {
  if (!connected_) return;
  connected_ = false;
  ctx_.sessions.release(session_, this, lost);
  log_debug(lost ? "ws disconnected, connection lost" : "ws disconnected",
            {{"user_id", user_id()}, {"remote_addr", client_address_}});
}

void WsSession::clear_queue() {
  // What the writer has taken counts until written (or skipped): only the queue's go here.
  queued_messages_ -=
      std::erase_if(queue_, [](const Outgoing& o) { return o.kind == Outgoing::Kind::text; });
}

}  // namespace switchboard
