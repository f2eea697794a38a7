#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace switchboard {

/// The process's own figures, as Prometheus' process_* families report them, read from
/// /proc/self (Linux). A figure that cannot be read is absent rather than zero.
struct ProcessStats {
  std::optional<double> cpu_seconds;  // user + system
  std::optional<std::uint64_t> resident_bytes;
  std::optional<std::uint64_t> virtual_bytes;
  std::optional<std::size_t> open_fds;
  std::optional<std::uint64_t> max_fds;      // the soft limit
  std::optional<double> start_time_seconds;  // since the Unix epoch
  std::optional<std::uint64_t> threads;

  /// Reads them now: a few small files and one directory listing, no blocking beyond that.
  static ProcessStats read();
};

}  // namespace switchboard
