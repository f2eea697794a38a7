#include "switchboard/net/http_session.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "switchboard/api/rest_api.hpp"
#include "switchboard/auth/account_service.hpp"
#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/ticket_book.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/net/request_adapter.hpp"
#include "switchboard/net/ws_session.hpp"
#include "switchboard/signaling/hub.hpp"
#include "switchboard/util/encoding.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {
/// What could not be asked now (the account store, the cluster's Redis): 503, try again.
HttpResponse try_again_shortly() {
  auto r = error_response(503, "unavailable", "Try again shortly.");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

/// RFC 6455 section 4.1: the client's key is 16 random bytes in base64, 24 characters.
/// (Beast's accept checks only its length.)
bool valid_client_key(std::string_view key) {
  if (key.size() != 24) return false;
  std::array<unsigned char, 18> bytes{};
  std::size_t size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bytes.data(), bytes.size(), key.data(), key.size(), nullptr, &size, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  return end == key.data() + key.size() && size == 16;
}
}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, ServerContext& ctx,
                         std::unique_ptr<ConnectionLimiter::Slot> slot, std::string peer_address)
    : stream_(std::move(socket)),
      ctx_(ctx),
      slot_(std::move(slot)),
      peer_address_(std::move(peer_address)) {}

void HttpSession::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
}

void HttpSession::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->close_after_ = true;
    if (self->reading_) self->close();
  });
}

void HttpSession::do_read() {
  if (close_after_) return close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(ctx_.settings.http_header_limit));
  parser_->body_limit(ctx_.settings.http_body_limit);
  // One deadline for the whole request: it bounds a trickled header (slowloris) and an idle
  // keep-alive connection alike.
  stream_.expires_after(std::chrono::seconds(ctx_.settings.http_request_timeout));
  reading_ = true;
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](auto ec, auto) { self->on_read(ec); });
}

void HttpSession::on_read(boost::system::error_code ec) {
  reading_ = false;
  read_at_ = std::chrono::steady_clock::now();
  route_.reset();
  // After a request we refused mid-read, the client may still be sending it: read and
  // discard the rest before closing, or the close resets the connection and the client never
  // sees our answer.
  if (ec == http::error::header_limit) {
    drain_before_close_ = true;
    return write(error_response(431, "headers_too_large", "Request headers are too large."), false);
  }
  if (ec == http::error::body_limit) {
    drain_before_close_ = true;
    return write(error_response(413, "body_too_large", "Request body is too large."), false);
  }
  if (ec) {
    // A malformed request gets a 400 before the close; a vanished or timed-out client
    // just the close.
    bool parse_error = ec.category() == make_error_code(http::error::bad_version).category() &&
                       ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (parse_error) {
      log_debug("http malformed request",
                {{"remote_addr", peer_address_}, {"error", ec.message()}});
      drain_before_close_ = true;
      return write(error_response(400, "bad_request", "Malformed HTTP request."), false);
    }
    return close();
  }
  on_request();
}

void HttpSession::on_request() {
  const Request& req = parser_->get();
  keep_alive_ = req.keep_alive() && !close_after_;
  head_request_ = req.method() == http::verb::head;
  auto target = std::string_view(req.target());
  route_ = metric_labels::api_route(target.substr(0, target.find('?')));
  if (beast::websocket::is_upgrade(req)) return upgrade();
  try {
    ctx_.api.handle(to_http_request(req, peer_address_, ctx_.settings.trusted_proxies),
                    stream_.get_executor(), [self = shared_from_this()](HttpResponse r) {
                      // The answer may come from a worker thread: return to our own thread.
                      net::dispatch(
                          self->stream_.get_executor(),
                          [self, r = std::move(r)]() mutable { self->respond(std::move(r)); });
                    });
  } catch (const std::exception& e) {
    // A bug of ours, not the client's: log it, answer without internals.
    // The path only: a query may hold a secret (a ticket, a session).
    std::string_view method = req.method_string();
    std::string_view path = target.substr(0, target.find('?'));
    log_error(
        "http request failed",
        {{"remote_addr", peer_address_}, {"method", method}, {"path", path}, {"error", e.what()}});
    keep_alive_ = false;
    respond(error_response(500, "internal", "Internal error."));
  }
}

void HttpSession::upgrade() {
  const Request& req = parser_->get();
  HttpRequest lifted = to_http_request(req, peer_address_, ctx_.settings.trusted_proxies);
  keep_alive_ = false;
  if (lifted.path != "/ws") {
    return respond(error_response(404, "not_found", "WebSocket upgrades are served on /ws."));
  }
  if (ctx_.shutting_down || ctx_.draining) {
    auto r = error_response(503, "unavailable", "The server is shutting down.");
    r.headers.emplace_back("Retry-After", "1");
    return respond(std::move(r));
  }
  // RFC 6455 section 4.2.2: we speak version 13 only, and say so.
  if (req[http::field::sec_websocket_version] != "13") {
    auto r = error_response(426, "upgrade_required", "WebSocket version 13 is required.");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    r.headers.emplace_back("Upgrade", "websocket");
    return respond(std::move(r));
  }
  if (!valid_client_key(req[http::field::sec_websocket_key])) {
    return respond(error_response(400, "bad_request", "Sec-WebSocket-Key is missing or invalid."));
  }
  const auto& allowed = ctx_.settings.allowed_origins;
  if (!allowed.empty()) {
    std::string origin(req[http::field::origin]);
    if (std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) {
      return respond(error_response(403, "origin_not_allowed", "This Origin may not connect."));
    }
  }
  auto unauthorized = [] {
    return error_response(401, "invalid_api_key", "A valid API key or ticket is required.");
  };
  resume_ = resume_request(lifted.query);
  client_address_ = lifted.client_address;
  std::string ticket = query_param(lifted.query, "ticket");
  if (!ticket.empty()) {
    return ctx_.tickets.redeem(ticket, [self = shared_from_this(), unauthorized](auto r) {
      net::dispatch(self->stream_.get_executor(), [self, r = std::move(r), unauthorized]() {
        if (!r) {
          return self->respond(try_again_shortly());
        }
        const auto& who = r.value();
        if (!who || self->ctx_.credentials.was_revoked(who->key_hash)) {
          return self->respond(unauthorized());
        }
        self->accept_upgrade(*who);
      });
    });
  }
  ctx_.accounts.authenticate_key(
      stream_.get_executor(), lifted.api_key,
      [self = shared_from_this(), unauthorized](Result<Identity, AccountFailure> r) {
        net::dispatch(self->stream_.get_executor(), [self, r = std::move(r), unauthorized]() {
          if (r) return self->accept_upgrade(r.value());
          if (r.error().error == AccountError::unavailable) {
            return self->respond(try_again_shortly());
          }
          self->respond(unauthorized());
        });
      });
}

void HttpSession::accept_upgrade(Identity who) {
  if (!resume_) return hand_over(std::move(who));
  // In a cluster the session may be on another daemon, or parked in Redis: brought here
  // first, so that the attach finds it (protocol.md 6, "a session resumes on any daemon").
  std::string session = resume_->session;
  ctx_.hub.bring_session(who, session,
                         [self = shared_from_this(), who](Result<Unit, HubUnavailable> r) mutable {
                           net::dispatch(self->stream_.get_executor(),
                                         [self, who = std::move(who), r = std::move(r)]() mutable {
                                           if (!r) return self->respond(try_again_shortly());
                                           self->read_resumed_rooms(std::move(who));
                                         });
                         });
}

void HttpSession::read_resumed_rooms(Identity who) {
  // A resumed Welcome lists the user's rooms: read first, off this thread when they live in
  // Redis; when it cannot be asked, 503 as for any request that needs it (protocol.md 6).
  UserId user = who.user_id;
  ctx_.hub.rooms_of(user, [self = shared_from_this(), who = std::move(who)](auto r) mutable {
    net::dispatch(self->stream_.get_executor(),
                  [self, who = std::move(who), r = std::move(r)]() mutable {
                    if (!r) {
                      return self->respond(try_again_shortly());
                    }
                    self->resume_->rooms = std::move(r.value());
                    self->hand_over(std::move(who));
                  });
  });
}

void HttpSession::hand_over(Identity who) {
  // The WebSocket has timeouts of its own; the HTTP deadline must not fire under it.
  stream_.expires_never();
  // Bytes the client sent behind its request (its first frames, perhaps) go along.
  auto pending = buffer_.cdata();
  std::string early(static_cast<const char*>(pending.data()), pending.size());
  ctx_.metrics.local().count_http(metric_labels::Route::ws, 101,
                                  std::chrono::steady_clock::now() - read_at_);
  auto ws =
      std::make_shared<WsSession>(stream_.release_socket(), ctx_, std::move(who), std::move(slot_),
                                  std::move(early), std::move(resume_), client_address_);
  ws->run(parser_->release());
}

void HttpSession::respond(HttpResponse response) {
  write(std::move(response), keep_alive_);
}

void HttpSession::write(HttpResponse r, bool keep_alive) {
  ctx_.metrics.local().count_http(metric_labels::route_for(route_, r.status), r.status,
                                  std::chrono::steady_clock::now() - read_at_);
  keep_alive = keep_alive && !close_after_;
  auto res =
      std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
  res->set(http::field::server, std::string("switchboard/") + kVersion);
  res->set(http::field::content_type, r.content_type);
  bool cache_set = false;
  for (auto& [name, value] : r.headers) {
    cache_set = cache_set || beast::iequals(name, "Cache-Control");
    res->set(name, value);
  }
  // API answers carry credentials: no cache may keep them.
  if (!cache_set) res->set(http::field::cache_control, "no-store");
  res->keep_alive(keep_alive);
  res->body() = std::move(r.body);
  res->prepare_payload();
  if (head_request_) res->body().clear();  // Content-Length stays that of the GET
  response_ = res;
  stream_.expires_after(std::chrono::seconds(ctx_.settings.http_request_timeout));
  http::async_write(stream_, *res, [self = shared_from_this(), keep_alive](auto ec, auto) {
    self->on_write(keep_alive, ec);
  });
}

void HttpSession::on_write(bool keep_alive, boost::system::error_code ec) {
  response_.reset();
  if (ec || !keep_alive) return close();
  do_read();
}

void HttpSession::close() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  if (!drain_before_close_) return stream_.close();
  drain_before_close_ = false;
  // A lingering close, bounded in time and bytes.
  stream_.expires_after(std::chrono::seconds(2));
  drain();
}

void HttpSession::drain() {
  constexpr std::size_t kMaxDrain = 1 << 20;
  if (drained_ >= kMaxDrain) return stream_.close();
  auto chunk = std::make_shared<std::array<char, 4096>>();
  stream_.async_read_some(net::buffer(*chunk),
                          [self = shared_from_this(), chunk](auto ec, std::size_t n) {
                            self->drained_ += n;
                            if (ec) return self->stream_.close();
                            self->drain();
                          });
}

void HttpSessionSet::add(const std::shared_ptr<HttpSession>& s) {
  std::lock_guard lock(mutex_);
  // Prune as we go so the list tracks live sessions, not every session ever.
  if (sessions_.size() >= 64 && sessions_.size() % 64 == 0) {
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
  }
  sessions_.push_back(s);
}

void HttpSessionSet::shutdown_all() {
  std::vector<std::weak_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(mutex_);
    sessions.swap(sessions_);
  }
  for (auto& w : sessions) {
    if (auto s = w.lock()) s->shutdown();
  }
}

}  // namespace switchboard
