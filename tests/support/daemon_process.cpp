#include "support/daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace switchboard::test {

DaemonProcess::DaemonProcess(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env,
                             const std::string& log_path) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::string own_pid_exports;
  for (const auto& [k, v] : env) {
    if (v == kOwnPid) {
      own_pid_exports += "export " + k + "=$$; ";
    } else {
      env_strings.push_back(k + "=" + v);
    }
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {SWITCHBOARD_BINARY};
  // exec keeps the shell's pid, which $$ named.
  if (!own_pid_exports.empty()) {
    argv_strings = {"/bin/sh", "-c", own_pid_exports + "exec \"$0\" \"$@\"", SWITCHBOARD_BINARY};
  }
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  int rc =
      posix_spawn(&pid_, argv_strings.front().c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    throw std::runtime_error("posix_spawn failed");
  }
  stdout_fd_ = pipe_fds[0];
}

DaemonProcess::~DaemonProcess() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::uint16_t DaemonProcess::wait_listening(std::chrono::milliseconds timeout) {
  static const std::regex line(R"(listening on http://[^\s]+:(\d+)\n)");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::smatch m;
    if (std::regex_search(out_, m, line)) return static_cast<std::uint16_t>(std::stoi(m[1]));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return 0;
    char buf[512];
    auto n = read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return 0;  // the process closed stdout (exited)
    out_.append(buf, static_cast<std::size_t>(n));
  }
}

bool DaemonProcess::read_stdout_to_end(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[512];
    auto n = read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return true;
    out_.append(buf, static_cast<std::size_t>(n));
  }
}

void DaemonProcess::signal(int signo) {
  if (!status_) kill(pid_, signo);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // waitpid has no timeout; poll it (this is waiting on an event with a bound, not a sleep
  // standing in for one).
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::map<std::string, std::string> daemon_test_env(const std::string& db_path) {
  return {{"SERVER_HOST", "127.0.0.1"}, {"SERVER_PORT", "0"},        {"DB_PATH", db_path},
          {"ARGON2_OPSLIMIT", "1"},     {"ARGON2_MEMLIMIT", "8192"}, {"WEB_ROOT", ""},
          {"LOG_LEVEL", "info"}};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace switchboard::test
