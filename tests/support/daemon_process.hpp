#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::test {

/// The real `switchboard` binary as a child process, for what only a process can show:
/// signals, exit codes, kill -9. Its stderr goes to `log_path`; its stdout is read for the
/// `listening on` line. Killed with SIGKILL on destruction if still running.
class DaemonProcess {
 public:
  /// An `env` value of kOwnPid becomes the child's own pid (as systemd sets WATCHDOG_PID):
  /// the child is then started through /bin/sh, which exports it and execs the daemon.
  static constexpr const char* kOwnPid = "<own pid>";

  DaemonProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                const std::string& log_path);
  pid_t pid() const { return pid_; }
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  /// The port from the `listening on http://HOST:PORT` line; 0 if it did not come in time.
  std::uint16_t wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Reads stdout until the process closes it (a command that prints and exits); false if it
  /// was still open at the timeout.
  bool read_stdout_to_end(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Everything read from stdout so far.
  const std::string& stdout_text() const { return out_; }
  void signal(int signo);
  /// The exit status (128+N for death by signal N), or nullopt if still running at timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string out_;
  std::optional<int> status_;
};

/// The environment most daemons under test run with: loopback on a port the OS picks, the
/// SQLite file at `db_path`, the cheapest Argon2 parameters, no web root, info logs. Callers
/// add or override what their test is about.
std::map<std::string, std::string> daemon_test_env(const std::string& db_path);

/// The whole of a file (a daemon's log), empty if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace switchboard::test
