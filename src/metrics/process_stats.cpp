#include "switchboard/metrics/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace switchboard {

namespace {
/// The fields of /proc/self/stat after the command name (which may hold spaces and parens):
/// element 0 is field 3, "state".
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> out;
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

std::optional<std::uint64_t> boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      std::uint64_t t = 0;
      if (in >> t) return t;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

std::optional<std::size_t> count_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  std::size_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n == 0 ? 0 : n - 1;  // less the descriptor of the listing itself
}
}  // namespace

ProcessStats ProcessStats::read() {
  ProcessStats s;
  auto f = stat_fields();
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  // Field n of proc(5) is f[n - 3].
  if (f.size() >= 22 && ticks > 0 && page > 0) {
    try {
      s.cpu_seconds =
          static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks);
      s.threads = std::stoull(f[17]);
      if (auto boot = boot_time()) {
        s.start_time_seconds = static_cast<double>(*boot) +
                               static_cast<double>(std::stoull(f[19])) / static_cast<double>(ticks);
      }
      s.virtual_bytes = std::stoull(f[20]);
      s.resident_bytes = std::stoull(f[21]) * static_cast<std::uint64_t>(page);
    } catch (const std::exception&) {
      // A kernel that formats the file otherwise: the figures stay absent.
    }
  }
  s.open_fds = count_fds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    s.max_fds = limit.rlim_cur;
  }
  return s;
}

}  // namespace switchboard
