#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "switchboard/ops/webhook_event.hpp"
#include "switchboard/signaling/protocol.hpp"

namespace switchboard {

/// A counter with one writer: the thread whose MetricsShard holds it. The add is a plain load
/// and store (no locked instruction); the scrape reads it from another thread, which relaxed
/// atomics make well-defined without costing the writer anything.
class LocalCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A histogram of durations with fixed upper bounds (seconds), one writer as LocalCounter.
template <std::size_t N>
class LocalHistogram {
 public:
  static constexpr std::size_t kBuckets = N;
  void observe(const std::array<double, N>& bounds, std::chrono::nanoseconds d) {
    double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < N && seconds > bounds[i]) ++i;
    buckets_[i].add();  // i == N: above every bound (+Inf only)
    sum_ns_.add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()));
  }
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].get(); }
  std::uint64_t sum_ns() const { return sum_ns_.get(); }

 private:
  std::array<LocalCounter, N + 1> buckets_;  // not cumulative; the scrape adds them up
  LocalCounter sum_ns_;
};

/// The fixed label values. Every label of every family comes from one of these lists, so a
/// client can never grow the number of series (unknown values fall into "other").
namespace metric_labels {

/// Client message types (protocol.md section 2), and "other" for a message that did not parse
/// or named another type.
enum class ClientType : std::uint8_t {
  create_room,
  join_room,
  sdp,
  ice_candidate,
  leave_room,
  ready,
  other,
  count_
};
ClientType client_type(std::optional<int> msg_type);
const char* name(ClientType t);

inline constexpr std::size_t kErrorCodes = static_cast<std::size_t>(SignalError::unavailable) + 1;

/// The close codes the daemon sends or may receive; anything else is "other".
inline constexpr std::array<std::uint16_t, 13> kCloseCodes = {
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 4001, 4002, 4003};
/// The slot of `code` in kCloseCodes, or kCloseCodes.size() ("other").
std::size_t close_slot(std::uint16_t code);

/// The fixed route names of the HTTP API; raw paths never become labels.
enum class Route : std::uint8_t {
  register_,
  updatepassword,
  regenerate,
  ws_ticket,
  ws,
  healthz,
  readyz,
  metrics,
  admin,
  static_file,  // a file of the web root
  other,        // anything else (404s, malformed requests)
  count_
};
/// The route of `path` when it is one of the API's, else nullopt (a static file or nothing:
/// the answer's status decides, see route_for).
std::optional<Route> api_route(std::string_view path);
/// The route label of a request to `path` (nullopt: unparsed) answered with `status`.
Route route_for(std::optional<Route> api, unsigned status);
const char* name(Route r);

/// The statuses the daemon answers with; anything else is "other".
inline constexpr std::array<unsigned, 18> kStatuses = {101, 200, 201, 204, 304, 400, 401, 403, 404,
                                                       405, 409, 413, 415, 426, 429, 431, 500, 503};
std::size_t status_slot(unsigned status);

enum class HashOp : std::uint8_t { hash, verify, count_ };

/// What became of a webhook event (docs/webhooks.md).
enum class WebhookResult : std::uint8_t {
  delivered,         // a 2xx
  rejected,          // a 4xx (or another status a retry will not change): not retried
  gave_up,           // every attempt failed
  dropped_overflow,  // the queue was full
  dropped_shutdown,  // still queued when the daemon stopped
  count_
};
const char* name(WebhookResult r);
/// Why one delivery attempt failed (and will be retried, attempts permitting).
enum class WebhookFailure : std::uint8_t {
  connect,       // resolve, connect, or the connection lost
  tls,           // the handshake failed: certificate not trusted, wrong host, no TLS
  timeout,       // no whole answer within webhook_timeout
  server_error,  // a 5xx
  bad_response,  // not an HTTP response
  count_
};
const char* name(WebhookFailure f);

}  // namespace metric_labels

/// Histogram bounds, in seconds.
inline constexpr std::array<double, 13> kHttpLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
inline constexpr std::array<double, 12> kWebhookDelayBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1,    2.5,   10,   30,  120};
inline constexpr std::array<double, 10> kHashTimeBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                           0.05,  0.1,    0.25,  0.5,  1};

/// One thread's counters. Only that thread writes them (Metrics::local); the scrape sums every
/// shard. Indexed by enum, so counting is an array index and an add: no lock, no map.
struct alignas(64) MetricsShard {
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(metric_labels::Route::count_);
  static constexpr std::size_t kClientTypes =
      static_cast<std::size_t>(metric_labels::ClientType::count_);

  LocalCounter connections_accepted;
  LocalCounter connections_refused;
  std::array<LocalCounter, metric_labels::kCloseCodes.size() + 1> ws_closes;
  std::array<LocalCounter, kClientTypes> client_messages;
  std::array<LocalCounter, 2> relays;  // sdp, ice_candidate
  std::array<LocalCounter, metric_labels::kErrorCodes> errors;
  std::array<std::array<LocalCounter, metric_labels::kStatuses.size() + 1>, kRoutes> http_requests;
  std::array<LocalHistogram<kHttpLatencyBounds.size()>, kRoutes> http_latency;
  std::array<LocalHistogram<kHashTimeBounds.size()>,
             static_cast<std::size_t>(metric_labels::HashOp::count_)>
      hash_time;
  std::array<LocalCounter, 2> resumes;  // resumed, fresh (a resume was asked for)

  /// The thread that writes this shard.
  std::thread::id owner;

  // Hot-path helpers.
  void count_client_message(metric_labels::ClientType t) {
    client_messages[static_cast<std::size_t>(t)].add();
  }
  void count_relay(MsgType t) { relays[t == MsgType::sdp ? 0 : 1].add(); }
  void count_error(SignalError e) { errors[static_cast<std::size_t>(e)].add(); }
  void count_close(std::uint16_t code) { ws_closes[metric_labels::close_slot(code)].add(); }
  void count_http(metric_labels::Route route, unsigned status, std::chrono::nanoseconds took);
  void observe_hash(metric_labels::HashOp op, std::chrono::nanoseconds took) {
    hash_time[static_cast<std::size_t>(op)].observe(kHashTimeBounds, took);
  }
};

/// The webhook sender's figures. Its thread counts results and attempts and times deliveries;
/// an overflow is counted by the thread whose event was dropped, hence atomics that add.
struct WebhookStats {
  static constexpr std::size_t kResults =
      static_cast<std::size_t>(metric_labels::WebhookResult::count_);
  static constexpr std::size_t kFailures =
      static_cast<std::size_t>(metric_labels::WebhookFailure::count_);

  std::array<std::array<std::atomic<std::uint64_t>, kResults>, kWebhookEventTypes> events{};
  std::array<std::atomic<std::uint64_t>, kFailures> attempt_failures{};
  /// From the event to its 2xx: queueing, retries and the receiver's answer together.
  LocalHistogram<kWebhookDelayBounds.size()> delivery_delay;  // the sender's thread only

  void count(WebhookEventType e, metric_labels::WebhookResult r) {
    events[static_cast<std::size_t>(e)][static_cast<std::size_t>(r)].fetch_add(
        1, std::memory_order_relaxed);
  }
  void count(metric_labels::WebhookFailure f) {
    attempt_failures[static_cast<std::size_t>(f)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t get(WebhookEventType e, metric_labels::WebhookResult r) const {
    return events[static_cast<std::size_t>(e)][static_cast<std::size_t>(r)].load(
        std::memory_order_relaxed);
  }
};

/// Values read from their owners at scrape time.
struct MetricsGauges {
  std::size_t open_connections = 0;       // TCP connections holding a limiter slot
  std::size_t websocket_connections = 0;  // sessions registered in the hub
  std::size_t sessions = 0;               // signaling sessions, attached or waiting
  std::size_t detached_sessions = 0;      // waiting for a resume
  /// Every room and member: unset in a cluster, whose rooms live in Redis (the admin API
  /// lists them); those gauges are then left out.
  std::optional<std::size_t> rooms;
  std::optional<std::size_t> room_members;
  std::size_t worker_queue = 0;  // worker pool jobs queued or running
  std::uint64_t writes_waited = 0;
  const WebhookStats* webhooks = nullptr;  // null: webhooks are off (no webhook families)
  std::size_t webhook_queue = 0;
};

/// The daemon's counters: a shard per thread that counts, summed when scraped, and the
/// Prometheus text of them (protocol.md section 5). One per Server.
class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// The calling thread's shard. The first call on a thread takes a lock to register it;
  /// later ones are a thread-local read. A connection keeps the pointer for its lifetime
  /// (it stays on one thread).
  MetricsShard& local();

  /// The whole exposition: every family, the process's own figures from /proc included.
  std::string render(const MetricsGauges& gauges) const;

 private:
  MetricsShard& register_thread();

  const std::uint64_t id_;  // never reused, so a thread's cache cannot mistake another Metrics
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<MetricsShard>> shards_;
};

}  // namespace switchboard
