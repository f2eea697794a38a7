#include "support/postgres_server.hpp"

#include "support/free_port.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace switchboard::test {

namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin/";

/// Runs `argv` with output appended to `log`; its exit status.
int run(std::vector<std::string> argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return 127;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string tail(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 1500 ? all.substr(all.size() - 1500) : all;
}

}  // namespace

PostgresServer::PostgresServer(bool durable) {
  char pattern[] = "/tmp/switchboard-pg.XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  if (geteuid() == 0) {
    // initdb refuses root: the cluster belongs to the user the package creates.
    const passwd* pg = getpwnam("postgres");
    if (!pg || chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      throw std::runtime_error("no postgres user to run the test server as");
    }
  }
  run_pg_tool({kBin + "initdb", "-D", (dir_ / "data").string(), "-A", "trust", "-U", "switchboard",
               "-E", "UTF8", "--locale=C", "--no-sync"},
              "initdb");
  {
    std::ofstream conf(dir_ / "data" / "postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_.string() << "'\n"
         << "max_connections = 300\n";
    if (!durable) conf << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
  }
  start_on_free_port(port_, [this] { start(); });
}

PostgresServer::~PostgresServer() {
  if (detached_) return;
  try {
    if (running_) stop("immediate");
  } catch (const std::exception&) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::url(const std::string& db) const {
  return "postgresql://switchboard@127.0.0.1:" + std::to_string(port_) + "/" + db +
         "?sslmode=disable";
}

void PostgresServer::run_pg_tool(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv;
  if (geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto log = dir_ / "tools.log";
  if (run(argv, log.string()) != 0) {
    throw std::runtime_error("PostgreSQL " + what + " failed; " + log.string() + ":\n" + tail(log) +
                             "\nserver log:\n" + tail(dir_ / "server.log"));
  }
}

void PostgresServer::start() {
  run_pg_tool({kBin + "pg_ctl", "-D", (dir_ / "data").string(), "-o", "-p " + std::to_string(port_),
               "-l", (dir_ / "server.log").string(), "-w", "-t", "60", "start"},
              "start");
  running_ = true;
}

void PostgresServer::stop(const std::string& mode) {
  run_pg_tool({kBin + "pg_ctl", "-D", (dir_ / "data").string(), "-m", mode, "-w", "stop"}, "stop");
  running_ = false;
}

std::string create_database(const std::string& server_url) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
                     std::to_string(rd() % 100000);
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(server_url.c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot reach the test PostgreSQL: " +
                             std::string(PQerrorMessage(c.get())));
  }
  // From template0, which takes no connections: a copy of template1 fails while anything
  // (an autovacuum worker, say) is connected to it, which a busy test server can have.
  std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexec(c.get(), ("CREATE DATABASE " + name + " TEMPLATE template0").c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error("CREATE DATABASE failed: " +
                             std::string(PQresultErrorMessage(r.get())));
  }
  auto at = server_url.find("/postgres?");
  return server_url.substr(0, at) + "/" + name + server_url.substr(at + 9);
}

std::string fresh_postgres_database() {
  static std::mutex mutex;
  static std::string shared_url;
  static std::unique_ptr<PostgresServer> own;
  std::lock_guard lock(mutex);
  if (shared_url.empty()) {
    if (const char* state = std::getenv("SWITCHBOARD_TEST_PG_STATE")) {
      std::ifstream in(state);
      std::getline(in, shared_url);
    }
    if (shared_url.empty()) {
      own = std::make_unique<PostgresServer>();
      shared_url = own->url();
    }
  }
  return create_database(shared_url);
}

void start_detached_postgres(const std::string& state_file) {
  stop_detached_postgres(state_file);  // one a cancelled run left behind
  PostgresServer server;
  server.detach();
  std::ofstream out(state_file);
  out << server.url() << "\n" << server.dir().string() << "\n";
}

bool stop_detached_postgres(const std::string& state_file) {
  std::ifstream in(state_file);
  std::string url, dir;
  if (!std::getline(in, url) || !std::getline(in, dir)) return false;
  std::vector<std::string> argv;
  if (geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), {kBin + "pg_ctl", "-D", dir + "/data", "-m", "fast", "-w", "stop"});
  run(argv, "/dev/null");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::remove(state_file, ec);
  return true;
}

}  // namespace switchboard::test
