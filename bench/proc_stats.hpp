#pragma once

#include <optional>

namespace switchboard::bench {

/// utime + stime of a process in seconds, from /proc/PID/stat.
std::optional<double> process_cpu_seconds(int pid);
/// VmRSS of a process in bytes, from /proc/PID/status.
std::optional<double> process_rss_bytes(int pid);
/// CPU seconds (user + system) this process has used so far.
double own_cpu_seconds();

}  // namespace switchboard::bench
