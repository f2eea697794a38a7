#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace switchboard::test {

/// A PostgreSQL 15 server of the test's own on 127.0.0.1: a fresh cluster (initdb) in a temp
/// dir, started and stopped with pg_ctl, as the `postgres` user when we are root (initdb
/// refuses root). Stopped and removed on destruction. Throws std::runtime_error when the
/// server cannot be set up (the message names the log to read).
class PostgresServer {
 public:
  /// `durable`: fsync as in production (for tests that kill the server and count what
  /// survived); otherwise fsync is off, which a shared test server does not need.
  explicit PostgresServer(bool durable = false);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// The URI of database `db` as the superuser `switchboard` (no password: trust on loopback).
  std::string url(const std::string& db = "postgres") const;

  /// Stops the server: "fast" (clients disconnected, clean shutdown) or "immediate" (as a
  /// crash: no checkpoint, recovery from the WAL at the next start).
  void stop(const std::string& mode = "fast");
  void start();
  bool running() const { return running_; }

  /// Leaves the server running past this object (the ctest fixture's start step).
  void detach() { detached_ = true; }

 private:
  void run_pg_tool(const std::vector<std::string>& args, const std::string& what);

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  bool running_ = false;
  bool detached_ = false;
};

/// Creates a fresh empty database on the server at `server_url` and returns its URI.
std::string create_database(const std::string& server_url);

/// A fresh empty database on the test run's shared PostgreSQL server: the one ctest's
/// `postgres` fixture started (its URI in the file SWITCHBOARD_TEST_PG_STATE names), or else
/// one this process starts on first use and stops at exit.
std::string fresh_postgres_database();

/// Stops the server a fixture's state file describes and removes its directory (the
/// fixture's clean-up step). Returns false if there was none.
bool stop_detached_postgres(const std::string& state_file);
/// Starts a shared server and writes its URI and directory to `state_file`.
void start_detached_postgres(const std::string& state_file);

}  // namespace switchboard::test
