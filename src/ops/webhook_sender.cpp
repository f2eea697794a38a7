#include "switchboard/ops/webhook_sender.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <random>
#include <stdexcept>

#include "switchboard/ops/webhook_response.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using metric_labels::WebhookFailure;
using metric_labels::WebhookResult;

namespace {
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

/// The sender's own I/O: everything here runs on its one thread.
struct WebhookSender::Io {
  net::io_context ioc{1};
  ssl::context tls{ssl::context::tls_client};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::unique_ptr<Lane>> lanes;
};

/// One connection to the receiver and the events of its lane, one at a time: an event is
/// attempted, retried after a backoff, and only then does the lane take the next, which is
/// what keeps a room's events in order. Each attempt has a deadline that closes whatever is
/// pending (a resolve, connect, handshake, write or read), so a receiver that never answers
/// costs a lane its timeout and nothing else.
class WebhookSender::Lane {
 public:
  Lane(WebhookSender& owner, std::size_t index, net::io_context& ioc, ssl::context& tls)
      : owner_(owner),
        url_(owner.config_.url),
        index_(index),
        ioc_(ioc),
        tls_ctx_(tls),
        resolver_(ioc),
        deadline_(ioc),
        backoff_(ioc),
        random_(std::random_device{}()) {}

  /// Takes the lane's next event unless it is busy with one.
  void wake() {
    if (!current_) next();
  }

  /// After the thread has stopped: the event the lane still held, if any.
  std::optional<WebhookEventType> held() const {
    if (!current_) return std::nullopt;
    return current_->event.type;
  }

 private:
  struct Pending {
    WebhookEvent event;
    std::string id;
    std::string body;
    unsigned attempts = 0;
  };

  void next() {
    auto event = owner_.queue_.pop(index_);
    if (!event) return;  // idle until a push wakes the lane
    std::string id = new_webhook_event_id();
    std::string body = webhook_body(*event, id);
    current_.emplace(Pending{std::move(*event), std::move(id), std::move(body), 0});
    attempt(true);
  }

  void attempt(bool counted) {
    if (counted) ++current_->attempts;
    timed_out_ = false;
    received_ = false;
    ++generation_;
    deadline_.expires_after(owner_.config_.timeout);
    deadline_.async_wait([this, generation = generation_](beast::error_code ec) {
      if (ec || generation != generation_) return;
      // Whatever is pending completes with an error, and its handler ends the attempt.
      timed_out_ = true;
      resolver_.cancel();
      close();
    });
    if (connected_) {
      reused_ = true;
      send();
    } else {
      reused_ = false;
      connect();
    }
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  beast::tcp_stream& tcp_layer() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  void connect() {
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port),
        [this](beast::error_code ec, const tcp::resolver::results_type& results) {
          if (ec) return failed(WebhookFailure::connect, ec);
          plain_.reset();
          tls_.reset();
          if (url_.tls) {
            tls_.emplace(ioc_, tls_ctx_);
            beast::error_code not_ip;
            net::ip::make_address(url_.host, not_ip);
            // SNI names a host, never an address (RFC 6066).
            // (SSL_set_tlsext_host_name spelled out: the macro is an old-style cast.)
            if (not_ip) {
              SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                       TLSEXT_NAMETYPE_host_name, const_cast<char*>(url_.host.c_str()));
            }
            tls_->set_verify_mode(ssl::verify_peer);
            tls_->set_verify_callback(ssl::host_name_verification(url_.host));
          } else {
            plain_.emplace(ioc_);
          }
          tcp_layer().async_connect(results, [this](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return failed(WebhookFailure::connect, ec2);
            if (!tls_) return connected();
            tls_->async_handshake(ssl::stream_base::client, [this](beast::error_code ec3) {
              if (ec3) return failed(WebhookFailure::tls, ec3);
              connected();
            });
          });
        });
  }

  void connected() {
    connected_ = true;
    send();
  }

  void send() {
    const WebhookConfig& c = owner_.config_;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    request_ = {};
    request_.method(http::verb::post);
    request_.target(url_.target);
    request_.version(11);
    request_.set(http::field::host, url_.host_header);
    request_.set(http::field::user_agent, std::string("switchboard-webhooks/") + kVersion);
    request_.set(http::field::content_type, "application/json");
    request_.set("X-Switchboard-Signature", webhook_signature(c.secret, now, current_->body));
    request_.keep_alive(true);
    request_.body() = current_->body;
    request_.prepare_payload();
    with_stream([this](auto& stream) {
      http::async_write(stream, request_, [this](beast::error_code ec, std::size_t) {
        if (ec) return failed(WebhookFailure::connect, ec);
        reader_.emplace();
        read();
      });
    });
  }

  void read() {
    with_stream([this](auto& stream) {
      stream.async_read_some(net::buffer(buffer_), [this](beast::error_code ec, std::size_t n) {
        if (n > 0) {
          received_ = true;
          if (auto verdict = reader_->feed({buffer_.data(), n})) return answered(*verdict);
        }
        if (!ec) return read();
        if (timed_out_) return failed(WebhookFailure::timeout, ec);
        if (received_ && (ec == net::error::eof || ec == ssl::error::stream_truncated)) {
          return answered(reader_->end_of_stream());
        }
        failed(WebhookFailure::connect, ec);
      });
    });
  }

  /// The attempt is over: no deadline for it any more.
  void end_attempt() {
    ++generation_;
    deadline_.cancel();
  }

  void close() {
    connected_ = false;
    beast::error_code ignored;
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
    if (plain_) plain_->socket().close(ignored);
  }

  void answered(const WebhookVerdict& v) {
    end_attempt();
    if (!v.reusable) close();
    WebhookStats& stats = owner_.stats_;
    switch (v.reply) {
      case WebhookReply::delivered:
        stats.count(current_->event.type, WebhookResult::delivered);
        stats.delivery_delay.observe(kWebhookDelayBounds,
                                     std::chrono::system_clock::now() - current_->event.time);
        return done();
      case WebhookReply::rejected:
        log_warn("webhook rejected by the receiver, not retried",
                 {{"event", to_string(current_->event.type)},
                  {"id", current_->id},
                  {"status", v.status}});
        stats.count(current_->event.type, WebhookResult::rejected);
        return done();
      case WebhookReply::server_error:
        return retry_later(WebhookFailure::server_error, "status " + std::to_string(v.status));
      case WebhookReply::bad_response:
        close();
        return retry_later(WebhookFailure::bad_response, "not an HTTP response");
    }
  }

  void failed(WebhookFailure why, const beast::error_code& ec) {
    end_attempt();
    close();
    // A kept-alive connection the receiver closed while idle fails before any answer: that
    // says nothing about the receiver, so the attempt is made again at once, on a new one.
    if (reused_ && !received_ && !timed_out_ && why == WebhookFailure::connect) {
      return attempt(false);
    }
    retry_later(timed_out_ ? WebhookFailure::timeout : why, ec.message());
  }

  void retry_later(WebhookFailure why, const std::string& detail) {
    WebhookStats& stats = owner_.stats_;
    const WebhookConfig& c = owner_.config_;
    stats.count(why);
    bool last = current_->attempts >= c.max_attempts;
    log_warn(last ? "webhook attempt failed, giving up" : "webhook attempt failed, will retry",
             {{"event", to_string(current_->event.type)},
              {"id", current_->id},
              {"attempt", current_->attempts},
              {"reason", metric_labels::name(why)},
              {"error", detail}});
    if (last) {
      stats.count(current_->event.type, WebhookResult::gave_up);
      return done();
    }
    // backoff * 2^(attempts-1), capped, then a random half of it off (jitter): receivers that
    // come back are not met by every lane of every daemon in the same instant.
    auto delay = c.backoff;
    for (unsigned i = 1; i < current_->attempts && delay < c.max_backoff; ++i) delay *= 2;
    delay = std::min(delay, c.max_backoff);
    std::uniform_int_distribution<std::int64_t> jitter(delay.count() / 2, delay.count());
    backoff_.expires_after(std::chrono::milliseconds(jitter(random_)));
    backoff_.async_wait([this](beast::error_code ec) {
      if (!ec) attempt(true);
    });
  }

  void done() {
    current_.reset();
    next();
  }

  WebhookSender& owner_;
  const WebhookUrl& url_;
  const std::size_t index_;
  net::io_context& ioc_;
  ssl::context& tls_ctx_;
  tcp::resolver resolver_;
  net::steady_timer deadline_;
  net::steady_timer backoff_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  bool connected_ = false;  // a connection is open and may carry the next request
  bool reused_ = false;     // this attempt went over a kept-alive connection
  bool timed_out_ = false;
  bool received_ = false;         // this attempt has read bytes of an answer
  std::uint64_t generation_ = 0;  // which attempt a deadline belongs to
  std::optional<Pending> current_;
  http::request<http::string_body> request_;
  std::optional<WebhookResponseReader> reader_;
  std::array<char, 4096> buffer_{};
  std::minstd_rand random_;
};

WebhookSender::WebhookSender(WebhookConfig config)
    : config_(std::move(config)),
      queue_(std::max(1u, config_.connections), config_.queue_size),
      io_(std::make_unique<Io>()) {
  SSL_CTX_set_min_proto_version(io_->tls.native_handle(), TLS1_2_VERSION);
  io_->tls.set_verify_mode(ssl::verify_peer);
  if (config_.ca_file.empty()) {
    io_->tls.set_default_verify_paths();
  } else {
    boost::system::error_code ec;
    io_->tls.load_verify_file(config_.ca_file, ec);
    if (ec) {
      throw std::runtime_error("cannot load webhook_ca_file " + config_.ca_file + ": " +
                               ec.message());
    }
  }
  for (std::size_t i = 0; i < queue_.lanes(); ++i) {
    io_->lanes.push_back(std::make_unique<Lane>(*this, i, io_->ioc, io_->tls));
  }
}

WebhookSender::~WebhookSender() {
  stop(std::chrono::milliseconds(0));
  // The lanes (their sockets and timers) go before the io_context they belong to.
  io_->lanes.clear();
}

void WebhookSender::start() {
  if (thread_.joinable()) return;
  io_->work.emplace(net::make_work_guard(io_->ioc));
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_->ioc.run();
        return;
      } catch (const std::exception& e) {
        log_error("a webhook handler failed", {{"error", e.what()}});
      }
    }
  });
  log_info(
      "webhooks on",
      {{"host", config_.url.host}, {"port", config_.url.port}, {"connections", queue_.lanes()}});
}

void WebhookSender::stop(std::chrono::milliseconds flush_for) {
  if (!thread_.joinable()) return;
  flush();
  queue_.wait_idle(std::chrono::steady_clock::now() + flush_for);
  io_->work.reset();
  io_->ioc.stop();
  thread_.join();
  std::size_t left = 0;
  for (std::size_t i = 0; i < io_->lanes.size(); ++i) {
    if (auto held = io_->lanes[i]->held()) {
      stats_.count(*held, WebhookResult::dropped_shutdown);
      ++left;
    }
    while (auto e = queue_.pop(i)) {
      stats_.count(e->type, WebhookResult::dropped_shutdown);
      ++left;
    }
  }
  if (left > 0) log_warn("webhook events not delivered at shutdown", {{"count", left}});
}

void WebhookSender::enqueue(WebhookEvent event) {
  auto type = event.type;
  auto pushed = queue_.push(std::move(event));
  if (!pushed.accepted) {
    stats_.count(type, WebhookResult::dropped_overflow);
    dropped_unlogged_.fetch_add(1, std::memory_order_relaxed);
    wake_.store(true, std::memory_order_relaxed);  // flush() logs the overflow
  } else if (pushed.wake) {
    wake_.store(true, std::memory_order_release);
  }
}

void WebhookSender::log_overflow() {
  // At most once a second: an overflow is a flood, and its log must not be one.
  auto now = steady_ms();
  auto last = last_overflow_log_.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_overflow_log_.compare_exchange_strong(last, now)) return;
  auto dropped = dropped_unlogged_.exchange(0, std::memory_order_relaxed);
  if (dropped > 0) {
    log_warn("webhook queue full, events dropped",
             {{"dropped", dropped}, {"queue_size", config_.queue_size}});
  }
}

void WebhookSender::flush() {
  if (!wake_.exchange(false, std::memory_order_acq_rel)) return;
  if (dropped_unlogged_.load(std::memory_order_relaxed) > 0) log_overflow();
  net::post(io_->ioc, [this] {
    for (auto& lane : io_->lanes) lane->wake();
  });
}

void WebhookSender::user_registered(UserId user, const std::string& username) {
  enqueue(
      {WebhookEventType::user_registered, std::chrono::system_clock::now(), {}, user, username});
  flush();
}

void WebhookSender::room_created(const std::string& room_id, UserId host) {
  enqueue({WebhookEventType::room_created, std::chrono::system_clock::now(), room_id, host, {}});
}

void WebhookSender::peer_joined(const std::string& room_id, UserId user) {
  enqueue({WebhookEventType::peer_joined, std::chrono::system_clock::now(), room_id, user, {}});
}

void WebhookSender::peer_left(const std::string& room_id, UserId user) {
  enqueue({WebhookEventType::peer_left, std::chrono::system_clock::now(), room_id, user, {}});
}

void WebhookSender::room_closed(const std::string& room_id, std::string_view reason) {
  enqueue({WebhookEventType::room_closed, std::chrono::system_clock::now(), room_id, 0,
           std::string(reason)});
}

}  // namespace switchboard
