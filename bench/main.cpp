// switchboard-bench: a load generator for switchboard and, through a protocol adapter, for
// PeerJS server, so that both are measured by the same client. See bench/README.md.

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "load.hpp"

namespace {

using switchboard::bench::Options;
using switchboard::bench::ServerKind;

constexpr const char* kUsage =
    R"(usage: switchboard-bench --url http://HOST:PORT --scenario NAME [options]
       switchboard-bench --url http://HOST:PORT --smoke

  --url URL[,URL...]            several: daemons of one cluster (REDIS_URL). Users register
                                on the first; the two ends of relay/rooms pair p connect to
                                daemons p % n and (p + 1) % n, connection c of connect/idle
                                to daemon c % n
  --server switchboard|peerjs   wire protocol of the server (default switchboard)
  --scenario relay|connect|idle|rooms|register
  --mode closed|open            relay: closed loop (each message answered) or fixed rate
  --pairs N                     relay, rooms: pairs of connections (default 50)
  --window W                    relay closed loop: messages in flight per direction (2)
  --rate R                      relay open loop: messages/s offered in total (20000)
  --tick-us U                   relay open loop: send what is due every U microseconds (100)
  --connections C               connect, idle: connections to open (1000)
  --concurrency K               handshakes in flight in total (256); register: client
                                threads, one kept-alive connection and request each (16)
  --duration S --warmup S       measured seconds (10) after warm-up seconds (2)
  --settle S                    idle: seconds before reading the RSS (3)
  --threads T                   generator threads, one io_context each (2)
  --setup-timeout S             give up when connections are not up after S seconds (120)
  --server-pid PID[,PID...]     read the server's CPU time and RSS from /proc/PID; with
                                several (one per --url daemon), their sum, and each daemon's
  --db-pid PID                  register, connect: also the CPU time of a database server
                                (PostgreSQL's postmaster) and its children
  --redis-pid PID               relay, connect, rooms: also redis-server's CPU time
  --users-file FILE             switchboard: cache of registered users between runs
  --json FILE                   append the result as one JSON line
  --label TEXT                  stored with the result
  --smoke                       a few seconds of every scenario at small sizes; exits 1 on
                                any error, failure or missing traffic

Scenarios: relay (pairs exchanging SDP and ICE messages), connect (open and authenticate C
connections), idle (hold C connections, server RSS per connection), rooms (create, join,
leave cycles), register (POST /register with fresh names for the measured window: rate,
latency, server CPU per registration; an answer other than 201 is an error).
)";

/// "a,b,c" as its non-empty parts.
std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = std::min(list.find(',', start), list.size());
    if (comma > start) parts.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

bool parse(int argc, char** argv, Options& opt, bool& smoke) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--smoke") {
      smoke = true;
    } else if (arg == "--help" || arg == "-h") {
      return false;
    } else if (arg.rfind("--", 0) == 0 && i + 1 < argc) {
      values[arg.substr(2)] = argv[++i];
    } else {
      std::cerr << "unexpected argument: " << arg << "\n";
      return false;
    }
  }
  for (const auto& [key, value] : values) {
    if (key == "url") {
      // http://HOST:PORT[/][,http://HOST:PORT...]
      for (const auto& url : split(value)) {
        auto rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
        if (!rest.empty() && rest.back() == '/') rest.pop_back();
        auto colon = rest.rfind(':');
        if (colon == std::string::npos) return false;
        opt.daemons.push_back({rest.substr(0, colon),
                               static_cast<unsigned short>(std::stoul(rest.substr(colon + 1)))});
      }
      if (opt.daemons.empty()) return false;
      opt.host = opt.daemons.front().host;
      opt.port = opt.daemons.front().port;
    } else if (key == "server") {
      if (value != "switchboard" && value != "peerjs") return false;
      opt.server = value == "peerjs" ? ServerKind::peerjs : ServerKind::switchboard;
    } else if (key == "scenario") {
      opt.scenario = value;
    } else if (key == "mode") {
      if (value != "closed" && value != "open") return false;
      opt.mode = value;
    } else if (key == "pairs") {
      opt.pairs = static_cast<unsigned>(std::stoul(value));
    } else if (key == "window") {
      opt.window = static_cast<unsigned>(std::stoul(value));
    } else if (key == "rate") {
      opt.rate = std::stod(value);
    } else if (key == "tick-us") {
      auto tick = std::stol(value);
      if (tick < 1 || tick > 1'000'000) return false;
      opt.tick_us = static_cast<unsigned>(tick);
    } else if (key == "connections") {
      opt.connections = static_cast<unsigned>(std::stoul(value));
    } else if (key == "concurrency") {
      opt.concurrency = static_cast<unsigned>(std::stoul(value));
    } else if (key == "duration") {
      opt.duration = std::stod(value);
    } else if (key == "warmup") {
      opt.warmup = std::stod(value);
    } else if (key == "settle") {
      opt.settle = std::stod(value);
    } else if (key == "setup-timeout") {
      opt.setup_timeout = std::stod(value);
    } else if (key == "threads") {
      opt.threads = std::max(1u, static_cast<unsigned>(std::stoul(value)));
    } else if (key == "server-pid") {
      for (const auto& pid : split(value)) opt.server_pids.push_back(std::stoi(pid));
    } else if (key == "db-pid") {
      opt.db_pid = std::stoi(value);
    } else if (key == "redis-pid") {
      opt.redis_pid = std::stoi(value);
    } else if (key == "users-file") {
      opt.users_file = value;
    } else if (key == "json") {
      opt.json_file = value;
    } else if (key == "label") {
      opt.label = value;
    } else {
      std::cerr << "unknown option --" << key << "\n";
      return false;
    }
  }
  // Registering, each client thread has one request in flight: 256 threads is no default.
  if (opt.scenario == "register" && !values.contains("concurrency")) opt.concurrency = 16;
  return opt.port != 0 && (smoke || !opt.scenario.empty());
}

/// Both processes hold one descriptor per connection: use all the hard limit allows.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

nlohmann::json run_one(const Options& opt, const switchboard::bench::Adapter& adapter) {
  using namespace switchboard::bench;
  if (opt.scenario == "register") return run_register(opt, adapter);  // makes its own users
  std::size_t needed = 0;
  if (opt.scenario == "relay" || opt.scenario == "rooms") {
    needed = 2 * std::size_t{opt.pairs};
  } else if (opt.scenario == "connect" || opt.scenario == "idle") {
    needed = opt.connections;
  } else {
    throw std::runtime_error("unknown scenario " + opt.scenario);
  }
  auto accounts = prepare_accounts(opt, adapter, needed);
  if (opt.scenario == "relay") return run_relay(opt, adapter, accounts);
  if (opt.scenario == "rooms") return run_rooms(opt, adapter, accounts);
  return run_connect(opt, adapter, accounts, opt.scenario == "idle");
}

void report(const Options& opt, const nlohmann::json& result) {
  std::cout << result.dump() << std::endl;
  if (!opt.json_file.empty()) {
    std::ofstream out(opt.json_file, std::ios::app);
    out << result.dump() << "\n";
  }
}

/// Every scenario for a couple of seconds at small sizes: proves the generator and the
/// server still agree on the protocol, not how fast either is.
int smoke(Options base, const switchboard::bench::Adapter& adapter) {
  base.warmup = 0.5;
  base.duration = 1.5;
  base.settle = 0.2;
  base.setup_timeout = 20;
  std::vector<Options> runs;
  Options o = base;
  o.scenario = "relay";
  o.mode = "closed";
  o.pairs = 4;
  runs.push_back(o);
  o.mode = "open";
  o.rate = 400;
  runs.push_back(o);
  o = base;
  o.scenario = "connect";
  o.connections = 40;
  o.concurrency = 8;
  runs.push_back(o);
  o.scenario = "idle";
  runs.push_back(o);
  if (adapter.has_rooms()) {
    o = base;
    o.scenario = "rooms";
    o.pairs = 4;
    runs.push_back(o);
  }
  if (adapter.kind() == switchboard::bench::ServerKind::switchboard) {
    o = base;
    o.scenario = "register";
    o.concurrency = 2;
    runs.push_back(o);
  }
  int failed = 0;
  for (const auto& run : runs) {
    auto result = run_one(run, adapter);
    report(run, result);
    if (!result.value("ok", false)) {
      std::cerr << "smoke: " << run.scenario << " (" << run.mode << ") failed\n";
      ++failed;
    }
  }
  std::cerr << (failed == 0 ? "smoke: all scenarios passed\n" : "smoke: FAILED\n");
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool smoke_mode = false;
  try {
    if (!parse(argc, argv, opt, smoke_mode)) {
      std::cerr << kUsage;
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "bad argument: " << e.what() << "\n" << kUsage;
    return 2;
  }
  raise_fd_limit();
  try {
    auto adapter = switchboard::bench::make_adapter(opt.server);
    if (smoke_mode) return smoke(opt, *adapter);
    auto result = run_one(opt, *adapter);
    report(opt, result);
    return result.value("ok", false) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "switchboard-bench: " << e.what() << "\n";
    return 1;
  }
}
