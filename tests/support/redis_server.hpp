#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace switchboard::test {

/// A redis-server of the test's own on 127.0.0.1 and a free port, in the foreground as our
/// child, with no persistence and DEBUG enabled (tests use DEBUG SLEEP to make it slow).
/// start() returns once it answers PING; stop() kills it; the destructor stops it even when
/// the test failed. Throws std::runtime_error when it cannot start (the message has its log).
class RedisServer {
 public:
  /// `password`: requirepass, empty for none.
  explicit RedisServer(std::string password = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// redis://[:password@]127.0.0.1:PORT[/db]
  std::string url(int db = 0) const;

  /// Kills the server (SIGKILL: as a crash or a cut network, nothing said to clients) and
  /// waits for it to exit.
  void stop();
  /// Starts it again on the same port; returns when it answers.
  void start();
  bool running() const { return pid_ > 0; }

 private:
  std::filesystem::path dir_;
  std::string password_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace switchboard::test
