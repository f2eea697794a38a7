#pragma once

#include <chrono>
#include <cstdint>

namespace switchboard {

/// Wall-clock time in whole seconds since the Unix epoch: what the stores keep and TURN
/// credentials expire by.
inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace switchboard
