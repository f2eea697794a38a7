#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchboard {

/// Counts open TCP connections, in total and per client address, and refuses new ones over
/// either bound. A connection holds a Slot for its lifetime; dropping the Slot frees it.
class ConnectionLimiter : public std::enable_shared_from_this<ConnectionLimiter> {
 public:
  class Slot {
   public:
    Slot(std::shared_ptr<ConnectionLimiter> owner, std::string address)
        : owner_(std::move(owner)), address_(std::move(address)) {}
    ~Slot() {
      if (owner_) owner_->release(address_);
    }
    Slot(Slot&&) = default;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;

   private:
    std::shared_ptr<ConnectionLimiter> owner_;
    std::string address_;
  };

  ConnectionLimiter(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  /// A slot for a connection from `address`, or nullptr when a bound is reached. A trusted
  /// reverse proxy carries many clients' connections, so it is exempt from the per-address
  /// bound (`per_address_bound` false) though not from the total.
  std::unique_ptr<Slot> try_acquire(const std::string& address, bool per_address_bound = true) {
    std::lock_guard lock(mutex_);
    auto& n = per_address_[address];
    if (total_ >= max_total_ || (per_address_bound && n >= max_per_address_)) {
      if (n == 0) per_address_.erase(address);
      return nullptr;
    }
    ++n;
    ++total_;
    return std::make_unique<Slot>(shared_from_this(), address);
  }

  std::size_t open() {
    std::lock_guard lock(mutex_);
    return total_;
  }

  /// Called (from whichever thread frees it) when the last connection closes.
  void on_idle(std::function<void()> f) {
    std::lock_guard lock(mutex_);
    on_idle_ = std::move(f);
  }

 private:
  void release(const std::string& address) {
    std::function<void()> idle;
    {
      std::lock_guard lock(mutex_);
      if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0) {
        per_address_.erase(it);
      }
      if (--total_ == 0) idle = on_idle_;
    }
    if (idle) idle();
  }

  std::size_t max_total_;
  std::size_t max_per_address_;
  std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
  std::function<void()> on_idle_;
};

}  // namespace switchboard
