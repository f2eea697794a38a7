#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace switchboard {

class UserStore;
class WorkerPool;

/// What /readyz reports.
enum class Readiness {
  ready,
  draining,             // SIGTERM received: the load balancer should stop sending new clients
  store_unavailable,    // the account store did not answer
  busy,                 // the worker pool is full: the store could not even be asked
  cluster_unavailable,  // in a cluster: Redis does not answer (ClusterHub::on_state)
};

/// Answers /readyz: ready while the account store (and, in a cluster, Redis) answers and the
/// daemon is not draining.
/// The store is asked on the worker pool (never on an I/O thread), at most one question at a
/// time, and an answer is reused for `max_age`: a flood of probes queues at most one job, and
/// the probes that arrive while it runs share its answer. When the pool refuses the job the
/// answer is `busy` at once, never a wait.
class ReadinessProbe {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Readiness)>;

  ReadinessProbe(UserStore& store, WorkerPool& pool,
                 std::chrono::milliseconds max_age = std::chrono::seconds(1),
                 std::function<Clock::time_point()> now = &Clock::now);

  /// From now on the answer is `draining` (any thread).
  void begin_drain() { draining_ = true; }
  bool draining() const { return draining_; }
  /// Whether the cluster's Redis answers, as the hub last said (any thread). Always true for a
  /// daemon alone; a cluster's daemon sets false before it starts, true once Redis is up.
  void set_cluster_up(bool up) { cluster_up_ = up; }

  /// Calls `done` once with the readiness: at once when it is known, else on `ex` once the
  /// store has answered (or on the thread that finishes the check shared with others).
  void check(const boost::asio::any_io_executor& ex, Done done);

 private:
  void finish(std::optional<bool> store_ok);

  UserStore& store_;
  WorkerPool& pool_;
  std::chrono::milliseconds max_age_;
  std::function<Clock::time_point()> now_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> cluster_up_{true};
  std::mutex mutex_;
  bool in_flight_ = false;
  std::optional<Clock::time_point> checked_at_;  // when the last answer came
  bool store_ok_ = false;                        // that answer
  std::vector<Done> waiting_;                    // probes sharing the check in flight
};

}  // namespace switchboard
