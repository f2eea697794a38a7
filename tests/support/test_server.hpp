#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "support/temp_dir.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/store/migrations.hpp"

namespace switchboard {
class Server;
}

namespace switchboard::test {

/// Settings for tests: port 0, a SQLite file in `dir`, the cheapest Argon2 cost, quiet logs.
Settings test_settings(const TempDir& dir);

/// Keeps the accounts of a TestServer in `dialect`'s store: the SQLite file of
/// test_settings, or a fresh database on the test run's PostgreSQL server.
std::function<void(Settings&)> with_store(SqlDialect dialect,
                                          std::function<void(Settings&)> adjust = {});

/// "SQLite" or "PostgreSQL": the name of a parameterised test's instance.
std::string dialect_test_name(SqlDialect dialect);

/// The real daemon, in process, listening on an OS-chosen loopback port, its io_context on
/// two threads. Stops (gracefully, bounded) on destruction.
class TestServer {
 public:
  explicit TestServer(std::function<void(Settings&)> adjust = {});
  ~TestServer();

  std::uint16_t port() const { return port_; }
  /// METRICS_ADDR's port, 0 when /metrics is served on port().
  std::uint16_t metrics_port() const;
  const Settings& settings() const { return settings_; }
  const TempDir& dir() const { return dir_; }
  /// How many writes waited for the socket (above BufferedSocket's high-water mark) so far.
  std::uint64_t writes_waited() const;
  /// Sessions whose connection was lost, waiting for a resume.
  std::size_t detached_sessions() const;
  /// Waits (bounded, 10 s) until `n` sessions are detached; false at the timeout.
  bool wait_detached(std::size_t n) const;
  /// Graceful shutdown; fails the test (and aborts) if it does not finish within 20 s.
  void stop();

 private:
  TempDir dir_;
  Settings settings_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

/// Registers `username` with `password` over HTTP and returns {user_id, api_key}.
struct Registered {
  std::uint64_t user_id = 0;
  std::string api_key;
};
Registered register_user(std::uint16_t port, const std::string& username,
                         const std::string& password = "correct horse battery");

}  // namespace switchboard::test
