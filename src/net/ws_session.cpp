#include "switchboard/net/ws_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/turn_credentials.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/signaling/signaling_hub.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {
constexpr auto kCloseGuard = std::chrono::seconds(5);
constexpr std::size_t kKeptReadBuffer = 8192;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

WsSession::WsSession(net::ip::tcp::socket&& socket, ServerContext& ctx, Identity who,
                     std::unique_ptr<ConnectionLimiter::Slot> slot)
    : Peer(std::move(who)),
      ws_(std::move(socket)),
      close_guard_(ws_.get_executor()),
      ctx_(ctx),
      slot_(std::move(slot)),
      rate_(ctx.settings.rate_limit_per_sec, ctx.settings.rate_limit_burst),
      strikes_(1.0, ctx.settings.rate_limit_strikes) {}

void WsSession::run(beast::http::request<beast::http::string_body> req) {
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = std::chrono::seconds(10);
  // Beast pings after half the idle timeout of silence and drops the peer if the other half
  // passes without a frame, so the ping interval is exactly ws_ping_interval.
  timeout.idle_timeout = std::chrono::seconds(2 * ctx_.settings.ws_ping_interval);
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  ws_.read_message_max(ctx_.settings.ws_max_message);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, std::string("switchboard/") + kVersion);
  }));
  // RFC 6455 defines close codes up to 4999. Beast would echo a larger one back as if it
  // meant something; we drop such a peer instead. (The callback runs inside a read, which
  // holds the session alive.)
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::close && ws_.reason().code >= 5000) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    }
  });
  ws_.async_accept(req, [self = shared_from_this()](auto ec) { self->on_accept(ec); });
}

void WsSession::on_accept(boost::system::error_code ec) {
  if (ec) {
    spdlog::debug("ws user {}: handshake failed: {}", user_id(), ec.message());
    return;
  }
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
  do_read();
}

void WsSession::do_read() {
  ws_.async_read(buffer_, [self = shared_from_this()](auto ec, auto) { self->on_read(ec); });
}

void WsSession::on_read(boost::system::error_code ec) {
  if (ec) {
    if (ec != websocket::error::closed && ec != net::error::operation_aborted) {
      spdlog::debug("ws user {}: read ended: {}", user_id(), ec.message());
    }
    return finish();
  }
  if (!ws_.got_text()) {
    // No further read: the close handshake reads until the peer's close frame.
    return close(CloseCode::unsupported_data, "binary frames are not supported");
  }
  bool closing = false;
  {
    std::lock_guard lock(mutex_);
    closing = closing_;
  }
  if (closing) {
    // Messages that arrive while we close are read (to reach the peer's close frame) and
    // dropped.
  } else if (!rate_.try_take()) {
    deliver(
        make_error({SignalError::rate_limited, describe(SignalError::rate_limited), std::nullopt}));
    if (!strikes_.try_take()) {
      spdlog::warn("ws user {}: closed for flooding", user_id());
      close(CloseCode::policy, "message rate limit exceeded");
    }
  } else {
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    spdlog::trace("ws user {} sent {} bytes", user_id(), text.size());
    try {
      ctx_.hub.handle(*this, text);
    } catch (const std::exception& e) {
      spdlog::error("ws user {}: message handling failed: {}", user_id(), e.what());
      close(CloseCode::internal_error, "internal error");
    }
  }
  buffer_.consume(buffer_.size());
  // One large message must not pin its buffer to an idle connection for good.
  if (buffer_.capacity() > kKeptReadBuffer) buffer_.shrink_to_fit();
  do_read();
}

void WsSession::deliver(SharedText message) {
  bool start = false;
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    if (queue_.size() >= ctx_.settings.ws_send_queue) {
      overflow = true;
    } else {
      queue_.push_back(std::move(message));
      start = !writing_;
      writing_ = writing_ || start;
    }
  }
  if (overflow) {
    spdlog::warn("ws user {}: closed as too slow a reader", user_id());
    // What it has not read by now it will not read: drop the queue rather than wait on it.
    start_close(CloseCode::policy, "too slow to read its messages", false);
  } else if (start) {
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->do_write(); });
  }
}

void WsSession::do_write() {
  bool close_now = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      writing_ = false;
      close_now = close_requested_;
    } else {
      in_flight_ = std::move(queue_.front());
      queue_.pop_front();
    }
  }
  if (!in_flight_) {
    if (close_now) do_close();
    return;
  }
  ws_.text(true);
  ws_.async_write(net::buffer(*in_flight_),
                  [self = shared_from_this()](auto ec, auto) { self->on_write(ec); });
}

void WsSession::on_write(boost::system::error_code ec) {
  in_flight_.reset();
  if (ec) {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      writing_ = false;
      queue_.clear();
    }
    // The connection is broken: make sure the pending read fails now, which finishes the
    // session (rather than the close guard, seconds later).
    beast::get_lowest_layer(ws_).close();
    return;
  }
  do_write();
}

void WsSession::close(CloseCode code, std::string_view reason) {
  start_close(code, reason, true);
}

void WsSession::start_close(CloseCode code, std::string_view reason, bool flush) {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    closing_ = true;  // from now on deliver() drops messages
    if (!flush) queue_.clear();
  }
  net::dispatch(ws_.get_executor(), [self = shared_from_this(), code, r = std::string(reason)] {
    self->begin_close(code, r);
  });
}

void WsSession::begin_close(CloseCode code, const std::string& reason) {
  if (finished_) return;  // the connection ended first: nothing left to close
  close_code_ = code;
  close_reason_ = reason;
  // It will receive nothing more, so its rooms learn now that it is gone, not when the
  // close handshake (or the guard) finishes.
  leave_hub();
  // A peer that neither drains its socket nor answers the close frame is cut off.
  close_guard_.expires_after(kCloseGuard);
  close_guard_.async_wait([self = shared_from_this()](auto ec) {
    if (!ec) beast::get_lowest_layer(self->ws_).close();
  });
  bool idle = false;
  {
    std::lock_guard lock(mutex_);
    close_requested_ = true;
    idle = !writing_;
  }
  // Messages queued before the close go out first; do_write closes once they have.
  if (idle) do_close();
}

void WsSession::do_close() {
  if (close_started_ || finished_) return;
  close_started_ = true;
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
      [self = shared_from_this()](auto) { self->finish(); });
}

void WsSession::finish() {
  finished_ = true;
  close_guard_.cancel();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    queue_.clear();
  }
  leave_hub();
}

void WsSession::leave_hub() {
  if (!connected_) return;
  connected_ = false;
  ctx_.hub.disconnect(*this);
  spdlog::debug("ws user {} disconnected", user_id());
}

}  // namespace switchboard
