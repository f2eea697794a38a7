#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace switchboard::bench {

/// A log-linear latency histogram in nanoseconds (64 sub-buckets per power of two, so about
/// 1.5% resolution), cheap enough to update on every message; one per thread, merged after.
class Histogram {
 public:
  void record(std::int64_t ns) {
    auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
    ++counts_[index(v)];
    ++total_;
  }

  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
  }

  std::uint64_t count() const { return total_; }

  /// The value at quantile q (0..1), as the middle of its bucket; 0 when empty.
  double quantile_ns(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return middle(i);
    }
    return middle(counts_.size() - 1);
  }

 private:
  static constexpr unsigned kSubBits = 6;
  static constexpr std::uint64_t kSub = std::uint64_t{1} << kSubBits;

  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    auto msb = static_cast<unsigned>(63 - std::countl_zero(v));
    unsigned shift = msb - kSubBits;
    std::uint64_t sub = (v >> shift) - kSub;
    return static_cast<std::size_t>((shift + 1) * kSub + sub);
  }

  static double middle(std::size_t i) {
    if (i < kSub) return static_cast<double>(i);
    std::size_t shift = i / kSub - 1;
    std::uint64_t top = kSub + i % kSub;
    double low = static_cast<double>(top << shift);
    double width = static_cast<double>(std::uint64_t{1} << shift);
    return low + width / 2;
  }

  std::array<std::uint64_t, 64 * kSub> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace switchboard::bench
