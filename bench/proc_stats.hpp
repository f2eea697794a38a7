#pragma once

#include <optional>

namespace switchboard::bench {

/// utime + stime of a process in seconds, from /proc/PID/stat.
std::optional<double> process_cpu_seconds(int pid);
/// CPU seconds of a process and its children: its own utime + stime, the cutime + cstime of
/// the children it has reaped, and the utime + stime of those alive now. For a PostgreSQL
/// postmaster that is the whole server: backends, WAL writer, checkpointer.
std::optional<double> process_tree_cpu_seconds(int pid);
/// VmRSS of a process in bytes, from /proc/PID/status.
std::optional<double> process_rss_bytes(int pid);
/// CPU seconds (user + system) this process has used so far.
double own_cpu_seconds();

}  // namespace switchboard::bench
