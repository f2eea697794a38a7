#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <utility>

namespace switchboard {

/// Runs blocking work (Argon2, SQLite) off the I/O threads and posts each result back to the
/// executor of the session that asked, so that no I/O thread ever waits on it. A job must not
/// throw: it catches its own exceptions and returns them as a value.
class WorkerPool {
 public:
  WorkerPool(unsigned threads, std::size_t bounded_limit) : pool_(threads), limit_(bounded_limit) {}

  /// Runs `job()` on a worker, then `handler(result)` on `ex`. The work guard keeps `ex`'s
  /// io_context running until the handler has been posted; it travels with the handler, so
  /// the worker never touches that io_context after the post (which may already be running
  /// the handler, and its owner destroying the io_context after it).
  template <class Job, class Handler>
  void run(const boost::asio::any_io_executor& ex, Job job, Handler handler) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(pool_, [this, job = std::move(job), handler = std::move(handler),
                              guard = boost::asio::make_work_guard(ex)]() mutable {
      auto result = job();
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      auto target = guard.get_executor();
      boost::asio::post(target, [handler = std::move(handler), result = std::move(result),
                                 guard = std::move(guard)]() mutable {
        guard.reset();
        handler(std::move(result));
      });
    });
  }

  /// As run(), for expensive jobs: refuses (returns false, runs nothing) when `bounded_limit`
  /// of them are queued or running already, so a burst is answered 503 instead of piling up
  /// memory and latency.
  template <class Job, class Handler>
  bool try_run(const boost::asio::any_io_executor& ex, Job job, Handler handler) {
    if (pending_.fetch_add(1) >= limit_) {
      pending_.fetch_sub(1);
      return false;
    }
    run(
        ex,
        [this, job = std::move(job)]() mutable {
          auto result = job();
          pending_.fetch_sub(1);
          return result;
        },
        std::move(handler));
    return true;
  }

  /// Jobs submitted and not yet finished (queued or running): the queue depth /metrics shows.
  std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  /// Waits for queued jobs to finish; later submissions are not run.
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  std::size_t limit_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace switchboard
