#include "proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace switchboard::bench {

namespace {

/// The fields of /proc/PID/stat from field 3 (state) on: element n - 3 is field n. The
/// command name may contain spaces and parentheses, so fields are counted after the last ')'.
std::optional<std::vector<std::string>> stat_fields(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> out;
  std::string field;
  while (out.size() < 15 && fields >> field) out.push_back(field);
  if (out.size() < 15) return std::nullopt;  // up to field 17 (cstime)
  return out;
}

double field(const std::vector<std::string>& f, int n) {
  return std::stod(f[static_cast<std::size_t>(n - 3)]);
}

double ticks() {
  return static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

std::optional<double> process_cpu_seconds(int pid) {
  auto f = stat_fields(std::to_string(pid));
  if (!f) return std::nullopt;
  return (field(*f, 14) + field(*f, 15)) / ticks();  // utime + stime
}

std::optional<double> process_tree_cpu_seconds(int pid) {
  auto own = stat_fields(std::to_string(pid));
  if (!own) return std::nullopt;
  // utime + stime, and cutime + cstime: children that exited and were waited for.
  double total = field(*own, 14) + field(*own, 15) + field(*own, 16) + field(*own, 17);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto f = stat_fields(name);  // a process that just exited reads as nothing
    if (f && (*f)[1] == std::to_string(pid)) total += field(*f, 14) + field(*f, 15);
  }
  return total / ticks();
}

std::optional<double> process_rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream value(line.substr(6));
      double kib = 0;
      value >> kib;
      return kib * 1024;
    }
  }
  return std::nullopt;
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace switchboard::bench
