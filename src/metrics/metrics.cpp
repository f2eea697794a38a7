#include "switchboard/metrics/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

#include "switchboard/metrics/process_stats.hpp"
#include "switchboard/version.hpp"

namespace switchboard {

namespace metric_labels {

ClientType client_type(std::optional<int> msg_type) {
  if (!msg_type) return ClientType::other;
  switch (static_cast<MsgType>(*msg_type)) {
    case MsgType::create_room:
      return ClientType::create_room;
    case MsgType::join_room:
      return ClientType::join_room;
    case MsgType::sdp:
      return ClientType::sdp;
    case MsgType::ice_candidate:
      return ClientType::ice_candidate;
    case MsgType::leave_room:
      return ClientType::leave_room;
    case MsgType::ready:
      return ClientType::ready;
    default:
      return ClientType::other;
  }
}

const char* name(ClientType t) {
  static const char* const names[] = {"CreateRoom", "JoinRoom", "SDP",  "ICECandidate",
                                      "LeaveRoom",  "Ready",    "other"};
  return names[static_cast<std::size_t>(t)];
}

std::size_t close_slot(std::uint16_t code) {
  for (std::size_t i = 0; i < kCloseCodes.size(); ++i) {
    if (kCloseCodes[i] == code) return i;
  }
  return kCloseCodes.size();
}

std::optional<Route> api_route(std::string_view path) {
  struct Entry {
    std::string_view path;
    Route route;
  };
  static constexpr Entry routes[] = {
      {"/register", Route::register_},
      {"/updatepassword", Route::updatepassword},
      {"/regenerate", Route::regenerate},
      {"/ws-ticket", Route::ws_ticket},
      {"/ws", Route::ws},
      {"/healthz", Route::healthz},
      {"/readyz", Route::readyz},
      {"/metrics", Route::metrics},
  };
  for (const auto& e : routes) {
    if (path == e.path) return e.route;
  }
  if (path == "/admin" || path.starts_with("/admin/")) return Route::admin;
  return std::nullopt;
}

Route route_for(std::optional<Route> api, unsigned status) {
  if (api) return *api;
  // Not an API path: what the web root served, or nothing at all.
  return (status >= 200 && status < 300) || status == 304 ? Route::static_file : Route::other;
}

const char* name(Route r) {
  static const char* const names[] = {"register", "updatepassword", "regenerate", "ws-ticket",
                                      "ws",       "healthz",        "readyz",     "metrics",
                                      "admin",    "static",         "other"};
  return names[static_cast<std::size_t>(r)];
}

std::size_t status_slot(unsigned status) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size();
}

const char* name(WebhookResult r) {
  static const char* const names[] = {"delivered", "rejected", "gave_up", "dropped_overflow",
                                      "dropped_shutdown"};
  return names[static_cast<std::size_t>(r)];
}

const char* name(WebhookFailure f) {
  static const char* const names[] = {"connect", "tls", "timeout", "server_error", "bad_response"};
  return names[static_cast<std::size_t>(f)];
}

}  // namespace metric_labels

namespace {
std::atomic<std::uint64_t> next_metrics_id{1};

using Out = std::back_insert_iterator<std::string>;

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(Out(out), "# HELP switchboard_{} {}\n# TYPE switchboard_{} {}\n", name, help, name,
                 type);
}

/// The sum over every shard of the counter `get` picks.
template <class Get>
std::uint64_t sum(const std::vector<const MetricsShard*>& shards, Get get) {
  std::uint64_t total = 0;
  for (const auto* s : shards) total += get(*s);
  return total;
}

template <std::size_t N, class Get>
void histogram(std::string& out, const std::vector<const MetricsShard*>& shards,
               std::string_view name, std::string_view labels, const std::array<double, N>& bounds,
               Get get) {
  std::uint64_t cumulative = 0;
  std::string_view sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= N; ++i) {
    cumulative += sum(shards, [&](const MetricsShard& s) { return get(s).bucket(i); });
    if (i < N) {
      fmt::format_to(Out(out), "switchboard_{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                     bounds[i], cumulative);
    } else {
      fmt::format_to(Out(out), "switchboard_{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep,
                     cumulative);
    }
  }
  double seconds =
      static_cast<double>(sum(shards, [&](const MetricsShard& s) { return get(s).sum_ns(); })) /
      1e9;
  std::string braces = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
  fmt::format_to(Out(out), "switchboard_{}_sum{} {}\nswitchboard_{}_count{} {}\n", name, braces,
                 seconds, name, braces, cumulative);
}

/// The webhook families (only when webhooks are on).
void render_webhooks(std::string& out, const WebhookStats& w, std::size_t queued) {
  using namespace metric_labels;
  header(out, "webhook_events_total", "counter",
         "Webhook events by type and what became of them (docs/webhooks.md).");
  for (std::size_t e = 0; e < kWebhookEventTypes; ++e) {
    for (std::size_t r = 0; r < WebhookStats::kResults; ++r) {
      fmt::format_to(
          Out(out), "switchboard_webhook_events_total{{event=\"{}\",result=\"{}\"}} {}\n",
          to_string(static_cast<WebhookEventType>(e)), name(static_cast<WebhookResult>(r)),
          w.events[e][r].load(std::memory_order_relaxed));
    }
  }
  header(out, "webhook_attempt_failures_total", "counter",
         "Webhook delivery attempts that failed, by reason; each is retried while attempts last.");
  for (std::size_t f = 0; f < WebhookStats::kFailures; ++f) {
    fmt::format_to(Out(out), "switchboard_webhook_attempt_failures_total{{reason=\"{}\"}} {}\n",
                   name(static_cast<WebhookFailure>(f)),
                   w.attempt_failures[f].load(std::memory_order_relaxed));
  }
  header(out, "webhook_queue_depth", "gauge", "Webhook events queued, waiting for their turn.");
  fmt::format_to(Out(out), "switchboard_webhook_queue_depth {}\n", queued);
  header(out, "webhook_delivery_delay_seconds", "histogram",
         "From a webhook event to its receiver's 2xx: queueing, retries and the answer.");
  const auto& h = w.delivery_delay;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= kWebhookDelayBounds.size(); ++i) {
    cumulative += h.bucket(i);
    if (i < kWebhookDelayBounds.size()) {
      fmt::format_to(Out(out),
                     "switchboard_webhook_delivery_delay_seconds_bucket{{le=\"{}\"}} {}\n",
                     kWebhookDelayBounds[i], cumulative);
    } else {
      fmt::format_to(Out(out),
                     "switchboard_webhook_delivery_delay_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     cumulative);
    }
  }
  fmt::format_to(Out(out),
                 "switchboard_webhook_delivery_delay_seconds_sum {}\n"
                 "switchboard_webhook_delivery_delay_seconds_count {}\n",
                 static_cast<double>(h.sum_ns()) / 1e9, cumulative);
}

void gauge(std::string& out, std::string_view name, std::string_view help, double value) {
  header(out, name, "gauge", help);
  fmt::format_to(Out(out), "switchboard_{} {}\n", name, value);
}
}  // namespace

void MetricsShard::count_http(metric_labels::Route route, unsigned status,
                              std::chrono::nanoseconds took) {
  auto r = static_cast<std::size_t>(route);
  http_requests[r][metric_labels::status_slot(status)].add();
  http_latency[r].observe(kHttpLatencyBounds, took);
}

Metrics::Metrics() : id_(next_metrics_id.fetch_add(1)) {}

MetricsShard& Metrics::local() {
  struct Cache {
    std::uint64_t owner = 0;
    MetricsShard* shard = nullptr;
  };
  thread_local Cache cache;
  if (cache.owner != id_) {
    cache.shard = &register_thread();
    cache.owner = id_;
  }
  return *cache.shard;
}

MetricsShard& Metrics::register_thread() {
  std::lock_guard lock(mutex_);
  auto me = std::this_thread::get_id();
  // A thread that counts for two Metrics in turn (a test's) finds its shard again.
  for (auto& s : shards_) {
    if (s->owner == me) return *s;
  }
  shards_.push_back(std::make_unique<MetricsShard>());
  shards_.back()->owner = me;
  return *shards_.back();
}

std::string Metrics::render(const MetricsGauges& g) const {
  using namespace metric_labels;
  std::vector<const MetricsShard*> shards;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : shards_) shards.push_back(s.get());
  }
  std::string out;
  out.reserve(16 * 1024);

  header(out, "build_info", "gauge", "The daemon's version; always 1.");
  fmt::format_to(Out(out), "switchboard_build_info{{version=\"{}\"}} 1\n", kVersion);

  gauge(out, "open_connections", "Open TCP connections (HTTP and WebSocket).",
        static_cast<double>(g.open_connections));
  gauge(out, "websocket_connections", "Signaling sessions registered in the hub.",
        static_cast<double>(g.websocket_connections));
  header(out, "connections_accepted_total", "counter", "TCP connections accepted.");
  fmt::format_to(Out(out), "switchboard_connections_accepted_total {}\n",
                 sum(shards, [](const MetricsShard& s) { return s.connections_accepted.get(); }));
  header(out, "connections_refused_total", "counter",
         "TCP connections refused with 503 over the connection limits.");
  fmt::format_to(Out(out), "switchboard_connections_refused_total {}\n",
                 sum(shards, [](const MetricsShard& s) { return s.connections_refused.get(); }));

  header(out, "websocket_closes_total", "counter",
         "WebSocket connections ended, by close code (1006: lost without a close handshake).");
  for (std::size_t i = 0; i <= kCloseCodes.size(); ++i) {
    auto n = sum(shards, [i](const MetricsShard& s) { return s.ws_closes[i].get(); });
    if (i < kCloseCodes.size()) {
      fmt::format_to(Out(out), "switchboard_websocket_closes_total{{code=\"{}\"}} {}\n",
                     kCloseCodes[i], n);
    } else {
      fmt::format_to(Out(out), "switchboard_websocket_closes_total{{code=\"other\"}} {}\n", n);
    }
  }

  if (g.rooms) gauge(out, "rooms", "Rooms open.", static_cast<double>(*g.rooms));
  if (g.room_members) {
    gauge(out, "room_members", "Members of all rooms.", static_cast<double>(*g.room_members));
  }
  gauge(out, "sessions", "Signaling sessions, attached or waiting for a resume.",
        static_cast<double>(g.sessions));
  gauge(out, "detached_sessions", "Sessions whose connection was lost, waiting for a resume.",
        static_cast<double>(g.detached_sessions));
  header(out, "session_resumes_total", "counter",
         "Connections that asked to resume a session, by outcome.");
  static const char* const outcomes[] = {"resumed", "fresh"};
  for (std::size_t i = 0; i < 2; ++i) {
    fmt::format_to(Out(out), "switchboard_session_resumes_total{{outcome=\"{}\"}} {}\n",
                   outcomes[i],
                   sum(shards, [i](const MetricsShard& s) { return s.resumes[i].get(); }));
  }

  header(out, "client_messages_total", "counter",
         "WebSocket messages from clients handled, by msg_type (other: unparsable or not a "
         "client type).");
  for (std::size_t i = 0; i < MetricsShard::kClientTypes; ++i) {
    fmt::format_to(Out(out), "switchboard_client_messages_total{{type=\"{}\"}} {}\n",
                   name(static_cast<ClientType>(i)),
                   sum(shards, [i](const MetricsShard& s) { return s.client_messages[i].get(); }));
  }
  header(out, "relays_total", "counter", "Messages relayed from one client to another, by type.");
  static const char* const relay_types[] = {"SDP", "ICECandidate"};
  for (std::size_t i = 0; i < 2; ++i) {
    fmt::format_to(Out(out), "switchboard_relays_total{{type=\"{}\"}} {}\n", relay_types[i],
                   sum(shards, [i](const MetricsShard& s) { return s.relays[i].get(); }));
  }
  header(out, "errors_total", "counter", "Error messages sent to clients, by code.");
  for (std::size_t i = 0; i < kErrorCodes; ++i) {
    fmt::format_to(Out(out), "switchboard_errors_total{{code=\"{}\"}} {}\n",
                   to_string(static_cast<SignalError>(i)),
                   sum(shards, [i](const MetricsShard& s) { return s.errors[i].get(); }));
  }

  header(out, "http_requests_total", "counter",
         "HTTP requests answered, by route and status (101: WebSocket upgrades).");
  for (std::size_t r = 0; r < MetricsShard::kRoutes; ++r) {
    for (std::size_t i = 0; i <= kStatuses.size(); ++i) {
      auto n = sum(shards, [r, i](const MetricsShard& s) { return s.http_requests[r][i].get(); });
      // Only the pairs that occurred: a route answers a few statuses, never all of them.
      if (n == 0) continue;
      std::string status = i < kStatuses.size() ? std::to_string(kStatuses[i]) : "other";
      fmt::format_to(Out(out), "switchboard_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                     name(static_cast<Route>(r)), status, n);
    }
  }
  header(out, "http_request_duration_seconds", "histogram",
         "Time from a whole request read to its answer handed to the socket, by route.");
  for (std::size_t r = 0; r < MetricsShard::kRoutes; ++r) {
    histogram(
        out, shards, "http_request_duration_seconds",
        fmt::format("route=\"{}\"", name(static_cast<Route>(r))),
        kHttpLatencyBounds, [r](const MetricsShard& s) -> const auto& {
          return s.http_latency[r];
        });
  }
  header(out, "password_hash_seconds", "histogram",
         "Time of one Argon2id computation on a worker thread, by operation.");
  static const char* const ops[] = {"hash", "verify"};
  for (std::size_t i = 0; i < 2; ++i) {
    histogram(
        out, shards, "password_hash_seconds", fmt::format("op=\"{}\"", ops[i]),
        kHashTimeBounds, [i](const MetricsShard& s) -> const auto& { return s.hash_time[i]; });
  }
  gauge(out, "worker_queue_depth", "Jobs (password hashes, store queries) queued or running.",
        static_cast<double>(g.worker_queue));
  header(out, "websocket_writes_waited_total", "counter",
         "WebSocket writes that found the socket's buffer full and waited for it to drain.");
  fmt::format_to(Out(out), "switchboard_websocket_writes_waited_total {}\n", g.writes_waited);

  if (g.webhooks) render_webhooks(out, *g.webhooks, g.webhook_queue);

  auto p = ProcessStats::read();
  if (p.cpu_seconds) {
    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    fmt::format_to(Out(out), "switchboard_process_cpu_seconds_total {}\n", *p.cpu_seconds);
  }
  if (p.resident_bytes) {
    gauge(out, "process_resident_memory_bytes", "Resident memory size.",
          static_cast<double>(*p.resident_bytes));
  }
  if (p.virtual_bytes) {
    gauge(out, "process_virtual_memory_bytes", "Virtual memory size.",
          static_cast<double>(*p.virtual_bytes));
  }
  if (p.open_fds) {
    gauge(out, "process_open_fds", "Open file descriptors.", static_cast<double>(*p.open_fds));
  }
  if (p.max_fds) {
    gauge(out, "process_max_fds", "The limit on open file descriptors.",
          static_cast<double>(*p.max_fds));
  }
  if (p.start_time_seconds) {
    gauge(out, "process_start_time_seconds", "Start time since the Unix epoch.",
          *p.start_time_seconds);
  }
  if (p.threads) {
    gauge(out, "process_threads", "Threads of the process.", static_cast<double>(*p.threads));
  }
  return out;
}

}  // namespace switchboard
