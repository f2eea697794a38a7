#include "switchboard/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "switchboard/api/admin_api.hpp"
#include "switchboard/api/rest_api.hpp"
#include "switchboard/api/static_files.hpp"
#include "switchboard/auth/account_service.hpp"
#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/login_throttle.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/auth/ticket_store.hpp"
#include "switchboard/cluster/node_liveness.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/cluster/redis_script.hpp"
#include "switchboard/cluster/redis_ticket_store.hpp"
#include "switchboard/cluster/redis_url.hpp"
#include "switchboard/metrics/metrics.hpp"
#include "switchboard/metrics/metrics_listener.hpp"
#include "switchboard/net/http_session.hpp"
#include "switchboard/net/listener.hpp"
#include "switchboard/ops/readiness_probe.hpp"
#include "switchboard/ops/systemd_notifier.hpp"
#include "switchboard/ops/webhook_sender.hpp"
#include "switchboard/signaling/cluster_hub.hpp"
#include "switchboard/signaling/session_manager.hpp"
#include "switchboard/signaling/signaling_hub.hpp"
#include "switchboard/store/user_store.hpp"
#include "switchboard/util/host_port.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace switchboard {

namespace net = boost::asio;

namespace {
/// How long a cluster daemon's shutdown waits for its sessions to be stored in Redis.
constexpr std::chrono::seconds kHandOverWait{5};

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
      log_error("an I/O handler failed", {{"error", e.what()}});
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

/// With REDIS_URL, the cluster's hub: two clients of the Redis (commands, and the inbox's
/// subscription) on the main io_context. Null for a daemon alone.
std::unique_ptr<ClusterHub> make_cluster_hub(const Settings& s, net::io_context& ioc) {
  if (s.redis_url.empty()) return nullptr;
  auto endpoint = parse_redis_url(s.redis_url);
  if (!endpoint) throw std::runtime_error("invalid redis_url: " + endpoint.error());
  RedisClientOptions options;
  options.endpoint = endpoint.value();
  auto commands = RedisClient::create(ioc.get_executor(), options);
  auto subscriber = RedisClient::create(ioc.get_executor(), options);
  // A random name lives as long as the process: a restarted daemon is another node, and the
  // others reap the old one's users when its heartbeat lapses.
  std::string node = s.node_id.empty() ? random_hex(8) : s.node_id;
  return std::make_unique<ClusterHub>(std::move(commands), std::move(subscriber), std::move(node),
                                      room_limits(s));
}

/// The webhook sender the settings ask for, or null (webhooks off).
std::unique_ptr<WebhookSender> make_webhooks(const Settings& s) {
  if (s.webhook_url.empty() || s.webhook_secret.empty()) return nullptr;
  auto url = parse_webhook_url(s.webhook_url);
  if (!url) throw std::runtime_error("invalid webhook_url");
  WebhookConfig c;
  c.url = std::move(*url);
  c.secret = s.webhook_secret;
  c.ca_file = s.webhook_ca_file;
  c.queue_size = s.webhook_queue_size;
  c.connections = s.webhook_connections;
  c.timeout = std::chrono::seconds(s.webhook_timeout);
  c.max_attempts = s.webhook_max_attempts;
  c.backoff = std::chrono::milliseconds(s.webhook_backoff_ms);
  return std::make_unique<WebhookSender>(std::move(c));
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
        cluster(make_cluster_hub(settings, ioc)),
        cluster_tickets(cluster
                            ? std::make_unique<RedisTicketStore>(
                                  cluster->commands(), std::chrono::seconds(settings.ticket_ttl))
                            : nullptr),
        ticket_book(cluster_tickets ? static_cast<TicketBook&>(*cluster_tickets) : tickets),
        accounts(*store, hasher, pool, credentials, tickets, account_throttle, address_throttle),
        files(settings.web_root),
        readiness(*store, pool),
        api(accounts, ticket_book, files, readiness),
        alone(cluster ? nullptr : std::make_unique<SignalingHub>(room_limits(settings))),
        hub(cluster ? static_cast<Hub&>(*cluster) : *alone),
        sessions(hub, settings.resume_window, KeepLimits{settings.resume_buffer, kResumeBytes}),
        limiter(std::make_shared<ConnectionLimiter>(settings.max_connections,
                                                    settings.max_connections_per_ip)),
        ctx{settings, api,           accounts,      ticket_book, credentials,   hub,
            sessions, http_sessions, shutting_down, draining_ws, writes_waited, metrics},
        shutdown_strand(net::make_strand(ioc)),
        drain_timer(shutdown_strand),
        grace_timer(shutdown_strand),
        watchdog_timer(shutdown_strand),
        sweep_timer(shutdown_strand),
        signals(ioc) {
    accounts.set_key_revoked_handler(
        [this](UserId user, const std::string& old_hash) { hub.revoke_key(user, old_hash); });
    hasher.set_observer([this](bool verify, std::chrono::nanoseconds took) {
      metrics.local().observe_hash(
          verify ? metric_labels::HashOp::verify : metric_labels::HashOp::hash, took);
    });
    if (webhooks) {
      // A cluster's room events happen in Redis scripts: not reported yet (docs/cluster.md).
      if (alone) alone->set_room_events(webhooks.get());
      accounts.set_registered_handler([this](UserId user, const std::string& username) {
        webhooks->user_registered(user, username);
      });
    }
    // With METRICS_ADDR a listener of its own serves /metrics (start), and the main port not.
    if (settings.metrics_addr.empty()) api.set_metrics_page([this] { return scrape(); });
    if (!settings.admin_token.empty()) {
      admin = std::make_unique<AdminApi>(settings.admin_token, hub, accounts);
      api.set_admin(admin.get());
    }
    if (cluster) cluster->set_sessions(&sessions);
    preload_credentials();
  }

  /// The /metrics page: the counters summed, the gauges read from their owners now.
  std::string scrape() {
    MetricsGauges g;
    g.open_connections = limiter->open();
    g.websocket_connections = hub.connection_count();
    if (auto rooms = hub.room_totals()) {
      g.rooms = rooms->rooms;
      g.room_members = rooms->members;
    }
    g.sessions = sessions.session_count();
    g.detached_sessions = sessions.detached_count();
    g.worker_queue = pool.in_flight();
    g.writes_waited = writes_waited.load(std::memory_order_relaxed);
    if (webhooks) {
      g.webhooks = &webhooks->stats();
      g.webhook_queue = webhooks->queue_depth();
    }
    return metrics.render(g);
  }

  /// Fills the credential cache from the store, as far as it holds: after a restart every
  /// client reconnects at once, and each known key is then checked in memory, with no trip
  /// to SQLite. A store that cannot be read now only leaves the cache to fill as keys arrive.
  void preload_credentials() {
    log_info("account store opened", {{"store", store->describe()}});
    if (credentials.capacity() == 0) return;
    auto known = store->recent_identities(credentials.capacity());
    if (!known) {
      log_warn("API keys not preloaded", {{"error", to_string(known.error())}});
      return;
    }
    for (const auto& who : known.value()) credentials.put(who);
    log_info("API keys loaded into memory", {{"count", known.value().size()}});
  }

  /// Cluster mode: Redis's state drives /readyz, and the heartbeat starts (start_liveness).
  void start_cluster() {
    readiness.set_cluster_up(false);
    cluster->on_state([this](bool up) {
      readiness.set_cluster_up(up);
      if (up) {
        log_info("cluster: Redis answers", {{"node", cluster->node_id()}});
        // The heartbeat registers once Redis first answers (then retries by itself).
        if (!liveness_begun.exchange(true))
          net::post(shutdown_strand, [this] { start_liveness(); });
      } else {
        log_warn("cluster: Redis does not answer", {{"node", cluster->node_id()}});
      }
    });
    // What Redis answers after handle() has returned, counted as the hub alone counts it.
    cluster->on_outcome([this](int type, std::optional<SignalError> error) {
      auto& m = metrics.local();
      if (error) return m.count_error(*error);
      m.count_relay(static_cast<MsgType>(type));
    });
    // A key rotated on any daemon: every daemon forgets it (its cache, its tickets), as the
    // rotating daemon's AccountService did.
    cluster->on_key_revoked([this](UserId user, const std::string& key_hash) {
      credentials.revoke(key_hash);
      tickets.revoke(user, key_hash);
    });
    // A deleted account's key: the same broadcast (the holder's daemon closes its socket with
    // 4001, as the admin API's own disconnect does).
    accounts.set_key_deleted_handler(
        [this](UserId user, const std::string& key_hash) { cluster->revoke_key(user, key_hash); });
    cluster->start();
  }

  /// Registers this node's heartbeat, and reaps the nodes that die (NodeLiveness). While Redis
  /// does not answer, tries again every second; a live daemon with the same NODE_ID stops
  /// this one.
  void start_liveness() {
    NodeLiveness::Handlers h;
    h.on_dead = [this](const std::string& node, std::vector<UserId> users,
                       std::function<void()> finished) {
      cluster->reap(node, users, std::move(finished));
    };
    // Redis lost our heartbeat (restarted, or unreachable past NODE_TTL): the connections
    // stay (protocol.md 6), and this node's users are claimed again.
    h.on_lost = [this] {
      log_warn("cluster heartbeat lapsed: this node's users claimed again",
               {{"node", cluster->node_id()}});
      cluster->reclaim_presence();
    };
    // The heartbeat lives 2/3 of NODE_TTL, refreshed and swept every 2/9: a node killed is
    // reaped within 8/9 of NODE_TTL of its last heartbeat, so "within NODE_TTL" (protocol.md
    // 6) holds with a round trip to spare, and a live node must miss three refreshes in a row
    // to be taken for dead.
    std::chrono::milliseconds heartbeat = std::chrono::seconds(settings.node_ttl) * 2 / 3;
    liveness =
        NodeLiveness::create(cluster->commands(), cluster->node_id(), heartbeat, std::move(h));
    liveness->start([this](Result<Unit, NodeLivenessError> r) {
      net::post(shutdown_strand, [this, r = std::move(r)] {
        if (r) {
          return log_info("cluster node registered",
                          {{"node", cluster->node_id()}, {"node_ttl", settings.node_ttl}});
        }
        if (shutting_down) return;
        if (r.error().code == NodeLivenessError::Code::in_use) {
          log_error("another live daemon has this node id: stopping",
                    {{"node", cluster->node_id()}});
          refused = true;
          return begin_shutdown();
        }
        liveness_timer.expires_after(std::chrono::seconds(1));
        liveness_timer.async_wait([this](auto ec) {
          if (!ec && !shutting_down) start_liveness();
        });
      });
    });
  }

  /// The last step of a cluster daemon's shutdown, once its connections are gone: what they
  /// queued for Redis (their rooms left) is answered, the heartbeat is taken out, and the
  /// clients stop, which lets the main loop end. `done` on the shutdown strand.
  void leave_cluster(std::function<void()> done) {
    if (!cluster) return done();
    liveness_timer.cancel();
    // The sessions handed over are stored in Redis first (a resume elsewhere waits for that),
    // or kHandOverWait has passed (Redis does not answer).
    auto next = std::make_shared<std::function<void()>>(
        [this, once = std::make_shared<std::atomic<bool>>(false), done = std::move(done)] {
          if (once->exchange(true)) return;
          net::post(shutdown_strand, [this, done] {
            hand_over_timer.cancel();
            close_cluster(done);
          });
        });
    hand_over_timer.expires_after(kHandOverWait);
    hand_over_timer.async_wait([this, next](auto ec) {
      if (ec) return;
      log_warn("sessions not all handed over in time", {{"node", cluster->node_id()}});
      (*next)();
    });
    cluster->after_hand_over([next] { (*next)(); });
  }

  /// leave_cluster's second half: the heartbeat out, the clients stopped.
  void close_cluster(std::function<void()> done) {
    // One connection answers in order: this PING's reply comes after every earlier command's.
    cluster->commands()->command({"PING"}, [this, done = std::move(done)](auto) mutable {
      net::post(shutdown_strand, [this, done = std::move(done)]() mutable {
        auto stop_clients = [this, done = std::move(done)](auto) mutable {
          net::post(shutdown_strand, [this, done = std::move(done)] {
            cluster->stop();
            log_info("cluster node left", {{"node", cluster->node_id()}});
            done();
          });
        };
        if (!liveness) return stop_clients(Result<Unit, NodeLivenessError>(Unit{}));
        liveness->stop(std::move(stop_clients));
      });
    });
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
      if (cluster) cluster->sweep_parked();
      sweep_sessions();
    });
  }

  /// SIGTERM, SIGINT or request_shutdown(). With drain_seconds, a drain comes first: /readyz
  /// and new WebSockets answer 503 so that a load balancer sends new clients elsewhere, while
  /// REST and the open WebSockets go on; then the shutdown. A second request during the drain
  /// ends it at once (an operator who means "now").
  void begin_drain() {
    if (shutting_down) return;
    if (settings.drain_seconds == 0 || draining_ws) return begin_shutdown();
    draining_ws = true;
    readiness.begin_drain();
    log_info("draining before shutdown",
             {{"seconds", settings.drain_seconds}, {"connections", limiter->open()}});
    notifier.stopping("draining for " + std::to_string(settings.drain_seconds) + " s");
    drain_timer.expires_after(std::chrono::seconds(settings.drain_seconds));
    drain_timer.async_wait([this](auto ec) {
      if (!ec) begin_shutdown();
    });
  }

  void begin_shutdown() {
    if (shutting_down.exchange(true)) return;
    log_info("shutting down", {{"connections", limiter->open()}});
    // Said once: a drain has said it already.
    if (!draining_ws.exchange(true)) notifier.stopping("shutting down");
    readiness.begin_drain();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    drain_timer.cancel();
    sweep_timer.cancel();
    if (listener) listener->stop();
    if (metrics_listener) metrics_listener->stop();
    api.begin_shutdown();
    if (cluster && settings.resume_window > 0) {
      // A rolling restart (protocol.md 6): each session parks in Redis and its socket closes
      // with 1012, for the client to resume on another daemon with nothing lost.
      cluster->hand_over_all();
    } else {
      hub.close_all(CloseCode::going_away, "server shutting down");
    }
    http_sessions.shutdown_all();
    // Wait for the last connection to go, but no longer than the grace period.
    grace_timer.expires_after(std::chrono::seconds(settings.shutdown_grace));
    grace_timer.async_wait([this](auto ec) {
      // The last connection is gone or the grace is over: the main loop may end now.
      watchdog_timer.cancel();
      if (!ec) log_warn("shutdown grace period over", {{"connections", limiter->open()}});
      leave_cluster([this, over = !ec] {
        if (over) stop_all();
      });
    });
    limiter->on_idle([this] { net::post(shutdown_strand, [this] { grace_timer.cancel(); }); });
    if (limiter->open() == 0) grace_timer.cancel();
  }

  /// Pings systemd's watchdog from the main io_context: a main loop that is stuck stops the
  /// pings, and systemd restarts the daemon.
  void ping_watchdog() {
    notifier.watchdog_ping();
    watchdog_timer.expires_after(notifier.watchdog_period());
    watchdog_timer.async_wait([this](auto ec) {
      if (!ec) ping_watchdog();
    });
  }

  /// Waits for SIGTERM / SIGINT, again after each: the second ends a drain.
  void wait_for_signal() {
    signals.async_wait([this](auto ec, int signo) {
      if (ec) return;
      log_info("signal received", {{"signal", signo}});
      net::post(shutdown_strand, [this] { begin_drain(); });
      // Not once the shutdown has cancelled the waits (it runs on this thread too).
      if (!shutting_down) wait_for_signal();
    });
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
  // Before the hub and the accounts, which report to it, so that it outlives them.
  std::unique_ptr<WebhookSender> webhooks = make_webhooks(settings);
  IoContext ioc;
  std::vector<std::unique_ptr<IoContext>> connection_contexts;
  WorkerPool pool;
  std::unique_ptr<UserStore> store;
  PasswordHasher hasher;
  CredentialCache credentials;
  TicketStore tickets;
  LoginThrottle account_throttle;
  LoginThrottle address_throttle;
  // With REDIS_URL: the cluster's hub, and its tickets in Redis (any daemon redeems them).
  std::unique_ptr<ClusterHub> cluster;
  std::unique_ptr<RedisTicketStore> cluster_tickets;
  TicketBook& ticket_book;
  AccountService accounts;
  StaticFiles files;
  ReadinessProbe readiness;
  RestApi api;
  std::unique_ptr<SignalingHub> alone;  // a daemon's own hub, when not in a cluster
  Hub& hub;
  std::shared_ptr<NodeLiveness> liveness;  // the cluster's heartbeat and reaper
  std::atomic<bool> liveness_begun{false};
  bool refused = false;  // stopped because it could not serve (run() returns false)
  SessionManager sessions;
  std::unique_ptr<AdminApi> admin;  // ADMIN_TOKEN's; null: /admin/ answers 404
  HttpSessionSet http_sessions;
  std::shared_ptr<ConnectionLimiter> limiter;
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> draining_ws{false};  // a drain or the shutdown has begun: no new /ws
  std::atomic<std::uint64_t> writes_waited{0};
  ServerContext ctx;
  net::strand<net::io_context::executor_type> shutdown_strand;
  net::steady_timer drain_timer;
  net::steady_timer grace_timer;
  net::steady_timer watchdog_timer;
  SystemdNotifier notifier;
  net::steady_timer sweep_timer;  // ends sessions whose resume window has passed
  net::steady_timer liveness_timer{shutdown_strand};   // a cluster's next registration attempt
  net::steady_timer hand_over_timer{shutdown_strand};  // the bound on leave_cluster's wait
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
    s.wait_for_signal();
  }
  if (s.webhooks) s.webhooks->start();
  if (s.cluster) s.start_cluster();
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
    log_info("metrics listening",
             {{"address", s.settings.metrics_addr.substr(0, s.settings.metrics_addr.rfind(':'))},
              {"port", s.metrics_listener->local_endpoint().port()}});
  }
  auto port = impl_->listener->local_endpoint().port();
  // Sent once the main loop runs, which is after main() has printed the listening line.
  net::post(s.shutdown_strand, [&s, port] {
    s.sweep_sessions();
    s.notifier.ready("listening on port " + std::to_string(port));
    if (s.notifier.watchdog_period().count() > 0) s.ping_watchdog();
  });
  return port;
}

bool Server::run() {
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
  // Every event is queued by now (the last sessions have left their rooms): a bounded wait
  // for the receiver to take them, no longer than one attempt may take.
  if (s.webhooks) s.webhooks->stop(std::chrono::seconds(s.settings.webhook_timeout));
  s.ioc.drop_handlers();
  for (auto& c : s.connection_contexts) c->drop_handlers();
  log_info("stopped");
  return !s.refused;
}

void Server::request_shutdown() {
  net::post(impl_->shutdown_strand, [this] { impl_->begin_drain(); });
}

}  // namespace switchboard
