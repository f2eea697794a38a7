#include "support/test_server.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "support/http_client.hpp"
#include "support/postgres_server.hpp"
#include "switchboard/server.hpp"

namespace switchboard::test {

Settings test_settings(const TempDir& dir) {
  Settings s;
  s.server_host = "127.0.0.1";
  s.server_port = 0;
  s.db_path = dir.file("switchboard.db");
  s.web_root = "";
  s.io_threads = 2;
  s.worker_threads = 2;
  s.argon2_opslimit = 1;
  s.argon2_memlimit = 8192;
  s.shutdown_grace = 5;
  return s;
}

std::function<void(Settings&)> with_store(SqlDialect dialect,
                                          std::function<void(Settings&)> adjust) {
  return [dialect, adjust = std::move(adjust)](Settings& s) {
    if (dialect == SqlDialect::postgresql) s.db_url = fresh_postgres_database();
    if (adjust) adjust(s);
  };
}

std::string dialect_test_name(SqlDialect dialect) {
  return dialect == SqlDialect::sqlite ? "SQLite" : "PostgreSQL";
}

TestServer::TestServer(std::function<void(Settings&)> adjust) : settings_(test_settings(dir_)) {
  if (const char* level = std::getenv("SWITCHBOARD_TEST_LOG")) {
    spdlog::set_level(spdlog::level::from_str(level));
  } else {
    spdlog::set_level(spdlog::level::err);
  }
  if (adjust) adjust(settings_);
  server_ = std::make_unique<Server>(settings_);
  port_ = server_->start(false);
  thread_ = std::thread([this] { server_->run(); });
}

std::uint16_t TestServer::metrics_port() const {
  return server_->metrics_port();
}

std::uint64_t TestServer::writes_waited() const {
  return server_->writes_waited();
}

std::size_t TestServer::detached_sessions() const {
  return server_->detached_sessions();
}

bool TestServer::wait_detached(std::size_t n) const {
  // The daemon notices a dead socket on its own I/O thread; nothing to wait on but the count.
  for (int i = 0; i < 1000; ++i) {
    if (server_->detached_sessions() == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TestServer::~TestServer() {
  stop();
}

void TestServer::stop() {
  if (!thread_.joinable()) return;
  server_->request_shutdown();
  auto joined = std::async(std::launch::async, [this] { thread_.join(); });
  if (joined.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "server did not shut down within 20 s";
    std::abort();  // a hung shutdown is a failure, not a stuck CI job
  }
  server_.reset();
}

Registered register_user(std::uint16_t port, const std::string& username,
                         const std::string& password) {
  auto r = http_post_json(port, "/register", {{"Username", username}, {"Password", password}});
  EXPECT_EQ(r.status, 201) << r.body;
  Registered out;
  if (r.status == 201) {
    out.user_id = r.json_body["user_id"].get<std::uint64_t>();
    out.api_key = r.json_body["api_key"].get<std::string>();
  }
  return out;
}

}  // namespace switchboard::test
