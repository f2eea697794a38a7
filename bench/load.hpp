#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "adapters.hpp"

namespace switchboard::bench {

/// Where one daemon listens.
struct Daemon {
  std::string host;
  unsigned short port = 0;
};

/// Everything the command line can set; the defaults are those of the documented runs.
struct Options {
  ServerKind server = ServerKind::switchboard;
  // The first daemon of --url: where users register (a cluster shares its accounts).
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  // Every daemon of --url, the first included. With n > 1, the two ends of pair p (relay,
  // rooms) connect to daemons p % n and (p + 1) % n, never the same one; connection c of
  // connect and idle to daemon c % n.
  std::vector<Daemon> daemons;
  std::string scenario;
  std::string mode = "closed";  // relay: closed or open
  unsigned pairs = 50;
  double rate = 20000;  // relay open loop: messages/s offered, in total
  // Relay open loop: how often the schedule is checked. A message waits up to a tick before
  // it leaves, and that wait counts as latency (stamps are due times): with 1 ms ticks the
  // p50 at 20,000/s was 1.1 ms, with 100 µs 0.14 ms, against the same daemon.
  unsigned tick_us = 100;
  unsigned window = 2;  // relay closed loop: messages in flight per direction of a pair
  unsigned connections = 1000;
  double duration = 10;  // seconds measured
  double warmup = 2;     // seconds of traffic before the measured window
  double settle = 3;     // idle: seconds between the last connection and the RSS reading
  unsigned threads = 2;
  unsigned concurrency = 256;  // connection handshakes in flight, in total; register: threads
  double setup_timeout = 120;
  std::vector<int> server_pids;  // the daemons' processes (CPU summed over them; RSS too)
  int db_pid = 0;                // a database server's main process (PostgreSQL's postmaster), or 0
  int redis_pid = 0;             // redis-server, or 0
  std::string users_file;
  std::string json_file;
  std::string label;
};

/// switchboard: users registered through POST /register (reusing those in `users_file`);
/// PeerJS: fresh peer ids and tokens.
std::vector<Account> prepare_accounts(const Options& opt, const Adapter& adapter,
                                      std::size_t count);

/// Each scenario returns one JSON object of figures, with "ok" and "problems".
nlohmann::json run_relay(const Options& opt, const Adapter& adapter,
                         const std::vector<Account>& accounts);
nlohmann::json run_connect(const Options& opt, const Adapter& adapter,
                           const std::vector<Account>& accounts, bool idle);
nlohmann::json run_rooms(const Options& opt, const Adapter& adapter,
                         const std::vector<Account>& accounts);
/// POST /register with fresh names from `concurrency` threads, one kept-alive connection and
/// one request in flight each (switchboard only).
nlohmann::json run_register(const Options& opt, const Adapter& adapter);

}  // namespace switchboard::bench
