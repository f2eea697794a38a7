#include "switchboard/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "switchboard/api/rest_api.hpp"
#include "switchboard/api/static_files.hpp"
#include "switchboard/auth/account_service.hpp"
#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/login_throttle.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/auth/ticket_store.hpp"
#include "switchboard/metrics/metrics.hpp"
#include "switchboard/metrics/metrics_listener.hpp"
#include "switchboard/net/http_session.hpp"
#include "switchboard/net/listener.hpp"
#include "switchboard/signaling/session_manager.hpp"
#include "switchboard/signaling/signaling_hub.hpp"
#include "switchboard/store/user_store.hpp"
#include "switchboard/util/host_port.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace switchboard {

namespace net = boost::asio;

namespace {
/// The most a session keeps for a resume, whatever resume_buffer says (protocol.md).
constexpr std::size_t kResumeBytes = 1 << 20;

/// A client address may fail this many times more often than one account before it is
/// throttled: many users can share one address (an office, a carrier NAT).
constexpr unsigned kAddressFailureFactor = 4;

/// Runs `ioc` until it stops. A handler that throws is a bug of ours: it is logged, and the
/// thread goes on serving its other connections rather than taking the process down.
void run_guarded(net::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("an I/O handler failed: {}", e.what());
    }
  }
}

/// An io_context whose queued handlers can be dropped before it is destroyed. A handler left
/// on one context (a delivery posted to a connection) may hold a connection whose socket and
/// timer belong to another: every context drops its handlers before any of them is destroyed
/// (Server::run).
class IoContext : public net::io_context {
 public:
  using net::io_context::io_context;
  void drop_handlers() { shutdown(); }
};

RoomLimits room_limits(const Settings& s) {
  return RoomLimits{s.room_default_size, s.room_max_size, s.rooms_per_user};
}
}  // namespace

struct Server::Impl {
  explicit Impl(Settings s)
      : settings(std::move(s)),
        ioc(1),
        connection_contexts(make_connection_contexts(io_thread_count())),
        pool(settings.worker_threads, settings.hash_queue_limit),
        store(open_user_store(settings.db_url.empty() ? settings.db_path : settings.db_url,
                              settings.db_pool_size)),
        hasher(settings.argon2_opslimit, settings.argon2_memlimit),
        credentials(settings.credential_cache_size),
        tickets(std::chrono::seconds(settings.ticket_ttl)),
        account_throttle(settings.login_free_failures,
                         std::chrono::seconds(settings.login_lockout_base),
                         std::chrono::seconds(settings.login_lockout_max)),
        address_throttle(settings.login_free_failures * kAddressFailureFactor,
                         std::chrono::seconds(settings.login_lockout_base),
                         std::chrono::seconds(settings.login_lockout_max)),
        accounts(*store, hasher, pool, credentials, tickets, account_throttle, address_throttle),
        files(settings.web_root),
        api(accounts, tickets, files),
        hub(room_limits(settings)),
        sessions(hub, settings.resume_window, KeepLimits{settings.resume_buffer, kResumeBytes}),
        limiter(std::make_shared<ConnectionLimiter>(settings.max_connections,
                                                    settings.max_connections_per_ip)),
        ctx{settings, api,           accounts,      tickets,       credentials, hub,
            sessions, http_sessions, shutting_down, writes_waited, metrics},
        shutdown_strand(net::make_strand(ioc)),
        grace_timer(shutdown_strand),
        sweep_timer(shutdown_strand),
        signals(ioc) {
    accounts.set_key_revoked_handler(
        [this](UserId user, const std::string& old_hash) { hub.revoke_key(user, old_hash); });
    hasher.set_observer([this](bool verify, std::chrono::nanoseconds took) {
      metrics.local().observe_hash(
          verify ? metric_labels::HashOp::verify : metric_labels::HashOp::hash, took);
    });
    // With METRICS_ADDR a listener of its own serves /metrics (start), and the main port not.
    if (settings.metrics_addr.empty()) api.set_metrics_page([this] { return scrape(); });
    preload_credentials();
  }

  /// The /metrics page: the counters summed, the gauges read from their owners now.
  std::string scrape() {
    MetricsGauges g;
    g.open_connections = limiter->open();
    g.websocket_connections = hub.connection_count();
    auto rooms = hub.room_totals();
    g.rooms = rooms.rooms;
    g.room_members = rooms.members;
    g.sessions = sessions.session_count();
    g.detached_sessions = sessions.detached_count();
    g.worker_queue = pool.in_flight();
    g.writes_waited = writes_waited.load(std::memory_order_relaxed);
    return metrics.render(g);
  }

  /// Fills the credential cache from the store, as far as it holds: after a restart every
  /// client reconnects at once, and each known key is then checked in memory, with no trip
  /// to SQLite. A store that cannot be read now only leaves the cache to fill as keys arrive.
  void preload_credentials() {
    spdlog::info("accounts in {}", store->describe());
    if (credentials.capacity() == 0) return;
    auto known = store->recent_identities(credentials.capacity());
    if (!known) {
      spdlog::warn("API keys not preloaded: {}", to_string(known.error()));
      return;
    }
    for (const auto& who : known.value()) credentials.put(who);
    spdlog::info("{} API keys loaded into memory", known.value().size());
  }

  unsigned io_thread_count() const {
    if (settings.io_threads > 0) return settings.io_threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }

  /// Once a second: the sessions detached for longer than the resume window end.
  void sweep_sessions() {
    if (settings.resume_window == 0) return;
    sweep_timer.expires_after(std::chrono::seconds(1));
    sweep_timer.async_wait([this](auto ec) {
      if (ec || shutting_down) return;
      sessions.sweep(std::chrono::steady_clock::now());
      sweep_sessions();
    });
  }

  void begin_shutdown() {
    if (shutting_down.exchange(true)) return;
    spdlog::info("shutting down: {} connections open", limiter->open());
    boost::system::error_code ignored;
    signals.cancel(ignored);
    sweep_timer.cancel();
    if (listener) listener->stop();
    if (metrics_listener) metrics_listener->stop();
    api.begin_shutdown();
    hub.close_all(CloseCode::going_away, "server shutting down");
    http_sessions.shutdown_all();
    // Wait for the last connection to go, but no longer than the grace period.
    grace_timer.expires_after(std::chrono::seconds(settings.shutdown_grace));
    grace_timer.async_wait([this](auto ec) {
      if (ec) return;
      spdlog::warn("shutdown grace period over with {} connections open", limiter->open());
      stop_all();
    });
    limiter->on_idle([this] { net::post(shutdown_strand, [this] { grace_timer.cancel(); }); });
    if (limiter->open() == 0) grace_timer.cancel();
  }

  /// One io_context per I/O thread, each run by its thread alone: a connection lives on one
  /// thread from accept to close, so its handlers need no strand, and a message between two
  /// connections of one thread is written in place.
  static std::vector<std::unique_ptr<IoContext>> make_connection_contexts(unsigned n) {
    std::vector<std::unique_ptr<IoContext>> out;
    for (unsigned i = 1; i < n; ++i) out.push_back(std::make_unique<IoContext>(1));
    return out;
  }

  /// Every io_context, the main one (acceptor, signals, shutdown) first.
  std::vector<net::io_context*> all_contexts() {
    std::vector<net::io_context*> out{&ioc};
    for (auto& c : connection_contexts) out.push_back(c.get());
    return out;
  }

  void stop_all() {
    for (auto* c : all_contexts()) c->stop();
  }

  Settings settings;
  Metrics metrics;  // first in, last out: every part below may count into it
  IoContext ioc;
  std::vector<std::unique_ptr<IoContext>> connection_contexts;
  WorkerPool pool;
  std::unique_ptr<UserStore> store;
  PasswordHasher hasher;
  CredentialCache credentials;
  TicketStore tickets;
  LoginThrottle account_throttle;
  LoginThrottle address_throttle;
  AccountService accounts;
  StaticFiles files;
  RestApi api;
  SignalingHub hub;
  SessionManager sessions;
  HttpSessionSet http_sessions;
  std::shared_ptr<ConnectionLimiter> limiter;
  std::atomic<bool> shutting_down{false};
  std::atomic<std::uint64_t> writes_waited{0};
  ServerContext ctx;
  net::strand<net::io_context::executor_type> shutdown_strand;
  net::steady_timer grace_timer;
  net::steady_timer sweep_timer;  // ends sessions whose resume window has passed
  net::signal_set signals;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<MetricsListener> metrics_listener;  // METRICS_ADDR's
};

Server::Server(Settings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}

Server::~Server() = default;

const Settings& Server::settings() const {
  return impl_->settings;
}

std::uint64_t Server::writes_waited() const {
  return impl_->writes_waited.load();
}

std::size_t Server::detached_sessions() const {
  return impl_->sessions.detached_count();
}

std::uint16_t Server::metrics_port() const {
  return impl_->metrics_listener ? impl_->metrics_listener->local_endpoint().port() : 0;
}

std::uint16_t Server::start(bool handle_signals) {
  Impl& s = *impl_;
  if (handle_signals) {
    s.signals.add(SIGINT);
    s.signals.add(SIGTERM);
    s.signals.async_wait([this](auto ec, int signo) {
      if (ec) return;
      spdlog::info("signal {} received", signo);
      request_shutdown();
    });
  }
  auto address = net::ip::make_address(impl_->settings.server_host);
  impl_->listener = std::make_shared<Listener>(
      impl_->all_contexts(), net::ip::tcp::endpoint(address, impl_->settings.server_port),
      impl_->ctx, impl_->limiter);
  impl_->listener->run();
  if (auto where = parse_host_port(s.settings.metrics_addr)) {
    s.metrics_listener = std::make_shared<MetricsListener>(
        s.ioc, net::ip::tcp::endpoint(net::ip::make_address(where->host), where->port),
        [&s] { return s.scrape(); });
    s.metrics_listener->run();
    spdlog::info("metrics on http://{}:{}/metrics",
                 s.settings.metrics_addr.substr(0, s.settings.metrics_addr.rfind(':')),
                 s.metrics_listener->local_endpoint().port());
  }
  net::post(s.shutdown_strand, [&s] { s.sweep_sessions(); });
  return impl_->listener->local_endpoint().port();
}

void Server::run() {
  Impl& s = *impl_;
  // The other contexts have nothing to do until connections arrive: keep them running until
  // the main one ends, which it does once shutdown has seen the last connection go.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep;
  std::vector<std::thread> threads;
  for (auto& c : s.connection_contexts) {
    keep.push_back(net::make_work_guard(*c));
    threads.emplace_back([ctx = c.get()] { run_guarded(*ctx); });
  }
  run_guarded(s.ioc);
  keep.clear();
  for (auto& t : threads) t.join();
  // Handlers the contexts still hold (after a grace-period stop) are dropped now, every
  // context's before any is destroyed (see IoContext), and after the strand the idle callback
  // posts to is cleared: nothing may call back into us from there.
  s.limiter->on_idle({});
  s.pool.join();
  s.ioc.drop_handlers();
  for (auto& c : s.connection_contexts) c->drop_handlers();
  spdlog::info("stopped");
}

void Server::request_shutdown() {
  net::post(impl_->shutdown_strand, [this] { impl_->begin_shutdown(); });
}

}  // namespace switchboard
