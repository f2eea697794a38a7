#include "switchboard/ops/readiness_probe.hpp"

#include "switchboard/store/user_store.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace switchboard {

ReadinessProbe::ReadinessProbe(UserStore& store, WorkerPool& pool,
                               std::chrono::milliseconds max_age,
                               std::function<Clock::time_point()> now)
    : store_(store), pool_(pool), max_age_(max_age), now_(std::move(now)) {}

void ReadinessProbe::check(const boost::asio::any_io_executor& ex, Done done) {
  if (draining_) return done(Readiness::draining);
  // Known at once: the hub reports each change of Redis's state.
  if (!cluster_up_) return done(Readiness::cluster_unavailable);
  std::optional<bool> cached;
  {
    std::lock_guard lock(mutex_);
    if (checked_at_ && now_() - *checked_at_ < max_age_) {
      cached = store_ok_;
    } else {
      waiting_.push_back(std::move(done));
      if (in_flight_) return;
      in_flight_ = true;
    }
  }
  if (cached) return done(*cached ? Readiness::ready : Readiness::store_unavailable);
  bool queued = pool_.try_run(
      ex, [this] { return store_.ping().ok(); }, [this](bool ok) { finish(ok); });
  if (!queued) finish(std::nullopt);
}

void ReadinessProbe::finish(std::optional<bool> store_ok) {
  std::vector<Done> waiting;
  {
    std::lock_guard lock(mutex_);
    in_flight_ = false;
    waiting.swap(waiting_);
    if (store_ok) {
      // Logged when it changes, not per probe.
      if (checked_at_ && store_ok_ != *store_ok) {
        if (*store_ok) {
          log_info("readiness: the account store answers again");
        } else {
          log_warn("readiness: the account store does not answer");
        }
      }
      checked_at_ = now_();
      store_ok_ = *store_ok;
    }
  }
  Readiness r = !store_ok   ? Readiness::busy
                : *store_ok ? Readiness::ready
                            : Readiness::store_unavailable;
  if (draining_) r = Readiness::draining;
  for (auto& done : waiting) done(r);
}

}  // namespace switchboard
