// The REST API of protocol.md section 1, driven over real HTTP against the in-process daemon.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "support/http_client.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;

HttpResult post_register(std::uint16_t port, const json& body) {
  return http_post_json(port, "/register", body);
}

/// Every test of the API runs against both account stores: a SQLite file and a database on
/// the test run's PostgreSQL server.
class RestApiTest : public ::testing::TestWithParam<SqlDialect> {
 protected:
  TestServer server_{with_store(GetParam())};
  std::uint16_t port() const { return server_.port(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, RestApiTest,
                         ::testing::Values(SqlDialect::sqlite, SqlDialect::postgresql),
                         [](const auto& p) { return dialect_test_name(p.param); });

TEST_P(RestApiTest, RegisterReturnsIdNameAndKey) {
  auto r = post_register(port(), {{"Username", "alice"}, {"Password", "correct horse"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.json_body["username"], "alice");
  EXPECT_GT(r.json_body["user_id"].get<std::uint64_t>(), 0u);
  auto key = r.json_body["api_key"].get<std::string>();
  EXPECT_EQ(key.size(), 43u);
  EXPECT_EQ(
      key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
}

TEST_P(RestApiTest, LowercaseFieldNamesAreAccepted) {
  auto r = post_register(port(), {{"username", "bob"}, {"password", "correct horse"}});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_P(RestApiTest, UsernamesAreUniqueWithoutRegardToCase) {
  register_user(port(), "Carol");
  auto r = post_register(port(), {{"Username", "cAROL"}, {"Password", "another password"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error_code(), "username_taken");
}

TEST_P(RestApiTest, ConcurrentRegistrationsOfOneNameGetExactlyOne201) {
  constexpr int kClients = 8;
  std::vector<std::future<HttpResult>> results;
  for (int i = 0; i < kClients; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      return post_register(port(), {{"Username", i % 2 ? "Racer" : "rACER"},
                                    {"Password", "password " + std::to_string(i)}});
    }));
  }
  int created = 0, taken = 0;
  for (auto& f : results) {
    auto r = f.get();
    if (r.status == 201) ++created;
    if (r.status == 409 && r.error_code() == "username_taken") ++taken;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(taken, kClients - 1);
}

TEST_P(RestApiTest, MalformedBodiesAreInvalidJson) {
  for (const std::string& body :
       std::vector<std::string>{"{", "not json", "[]", "\"alice\"", "42", ""}) {
    auto r =
        http_request(port(), "POST", "/register", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.error_code(), "invalid_json") << body;
  }
  std::string deep(100, '[');
  auto r = http_request(port(), "POST", "/register", deep + std::string(100, ']'),
                        {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.error_code(), "invalid_json");
}

TEST_P(RestApiTest, MissingOrMistypedFieldsAreMissingField) {
  for (const json& body : {json{{"Username", "dave"}}, json{{"Password", "correct horse"}},
                           json{{"Username", 42}, {"Password", "correct horse"}},
                           json{{"Username", "dave"}, {"Password", nullptr}}}) {
    auto r = post_register(port(), body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.error_code(), "missing_field") << body;
  }
}

TEST_P(RestApiTest, UsernameRulesAreEnforced) {
  for (const std::string& name :
       std::vector<std::string>{"ab", std::string(33, 'a'), "has space", "semi;colon", "ünï"}) {
    auto r = post_register(port(), {{"Username", name}, {"Password", "correct horse"}});
    EXPECT_EQ(r.status, 400) << name;
    EXPECT_EQ(r.error_code(), "invalid_username") << name;
  }
  for (const std::string& name : std::vector<std::string>{"abc", std::string(32, 'z'), "A.b-c_9"}) {
    EXPECT_EQ(post_register(port(), {{"Username", name}, {"Password", "correct horse"}}).status,
              201)
        << name;
  }
}

TEST_P(RestApiTest, PasswordLengthIsEnforced) {
  for (const std::string& pw : {std::string(7, 'p'), std::string(129, 'p')}) {
    auto r = post_register(port(), {{"Username", "erin"}, {"Password", pw}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.error_code(), "invalid_password");
  }
  EXPECT_EQ(
      post_register(port(), {{"Username", "erin"}, {"Password", std::string(128, 'p')}}).status,
      201);
}

TEST_P(RestApiTest, NonJsonContentTypeIs415) {
  auto body = json{{"Username", "frank"}, {"Password", "correct horse"}}.dump();
  for (const std::string& type :
       std::vector<std::string>{"text/plain", "application/x-www-form-urlencoded", ""}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!type.empty()) headers.emplace_back("Content-Type", type);
    auto r = http_request(port(), "POST", "/register", body, headers);
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_EQ(r.error_code(), "unsupported_media_type");
  }
  auto ok = http_request(port(), "POST", "/register", body,
                         {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(ok.status, 201);
}

TEST_P(RestApiTest, OversizedBodyIs413) {
  json body = {
      {"Username", "gina"}, {"Password", "correct horse"}, {"pad", std::string(9000, 'x')}};
  auto r = http_post_json(port(), "/register", body);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_code(), "body_too_large");
}

TEST_P(RestApiTest, OversizedHeadersAre431) {
  auto r = http_request(port(), "GET", "/healthz", "", {{"X-Filler", std::string(10000, 'h')}});
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.error_code(), "headers_too_large");
}

TEST_P(RestApiTest, UnknownPathIs404AndWrongMethodIs405) {
  auto missing = http_request(port(), "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  auto wrong = http_request(port(), "GET", "/register");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.error_code(), "method_not_allowed");
  EXPECT_EQ(wrong.header("allow"), "POST");
  EXPECT_EQ(http_request(port(), "DELETE", "/healthz").status, 405);
  EXPECT_EQ(http_request(port(), "POST", "/ws").status, 405);
}

TEST_P(RestApiTest, HealthzIsOk) {
  auto r = http_request(port(), "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json_body, json({{"status", "ok"}}));
}

TEST_P(RestApiTest, PlainGetOfWsIs426) {
  auto r = http_request(port(), "GET", "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.error_code(), "upgrade_required");
}

TEST_P(RestApiTest, MalformedHttpIs400) {
  auto reply = raw_exchange(port(), "BLAH\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
}

TEST_P(RestApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  auto reply = raw_exchange(port(), one + one + last);
  std::size_t count = 0;
  for (auto pos = reply.find("HTTP/1.1 200"); pos != std::string::npos;
       pos = reply.find("HTTP/1.1 200", pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u) << reply;
}

TEST_P(RestApiTest, UpdatePasswordChangesWhichPasswordWorks) {
  auto user = register_user(port(), "henry", "first password");
  auto r = http_post_json(
      port(), "/updatepassword",
      {{"Username", "henry"}, {"Password", "first password"}, {"NewPassword", "second password"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body, json({{"user_id", user.user_id}, {"username", "henry"}}));
  auto old = http_post_json(port(), "/regenerate",
                            {{"Username", "henry"}, {"Password", "first password"}});
  EXPECT_EQ(old.status, 401);
  auto fresh = http_post_json(port(), "/regenerate",
                              {{"username", "HENRY"}, {"password", "second password"}});
  EXPECT_EQ(fresh.status, 200);
}

TEST_P(RestApiTest, UpdatePasswordChecksFormatBeforeCredentials) {
  register_user(port(), "iris", "the password");
  auto bad_new = http_post_json(
      port(), "/updatepassword",
      {{"Username", "iris"}, {"Password", "wrong password"}, {"NewPassword", "short"}});
  EXPECT_EQ(bad_new.status, 400);
  EXPECT_EQ(bad_new.error_code(), "invalid_password");
  auto missing = http_post_json(port(), "/updatepassword",
                                {{"Username", "iris"}, {"Password", "the password"}});
  EXPECT_EQ(missing.error_code(), "missing_field");
  auto bad_name = http_post_json(
      port(), "/updatepassword",
      {{"Username", "x"}, {"Password", "the password"}, {"new_password", "a new password"}});
  EXPECT_EQ(bad_name.error_code(), "invalid_username");
}

TEST_P(RestApiTest, UnknownUserAndWrongPasswordGetTheSameAnswer) {
  register_user(port(), "jack", "the password");
  auto wrong = http_post_json(port(), "/regenerate",
                              {{"Username", "jack"}, {"Password", "not the password"}});
  auto unknown = http_post_json(port(), "/regenerate",
                                {{"Username", "nobody"}, {"Password", "not the password"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(wrong.error_code(), "invalid_credentials");
}

TEST_P(RestApiTest, RegenerateReplacesTheKey) {
  auto user = register_user(port(), "kate", "the password");
  auto r =
      http_post_json(port(), "/regenerate", {{"Username", "kate"}, {"Password", "the password"}});
  ASSERT_EQ(r.status, 200);
  auto fresh = r.json_body["api_key"].get<std::string>();
  EXPECT_NE(fresh, user.api_key);
  EXPECT_EQ(r.json_body["user_id"], user.user_id);
  auto old_ticket = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", user.api_key}});
  EXPECT_EQ(old_ticket.status, 401);
  EXPECT_EQ(old_ticket.error_code(), "invalid_api_key");
  auto new_ticket = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", fresh}});
  EXPECT_EQ(new_ticket.status, 200);
}

TEST_P(RestApiTest, WsTicketAcceptsBothHeaderForms) {
  auto user = register_user(port(), "liam");
  auto a = http_request(port(), "POST", "/ws-ticket", "", {{"X-API-Key", user.api_key}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json_body["expires_in"], 30);
  EXPECT_EQ(a.json_body["ticket"].get<std::string>().size(), 43u);
  auto b =
      http_request(port(), "POST", "/ws-ticket", "", {{"Authorization", "Bearer " + user.api_key}});
  EXPECT_EQ(b.status, 200);
  EXPECT_NE(a.json_body["ticket"], b.json_body["ticket"]);
}

TEST_P(RestApiTest, WsTicketRejectsMissingOrWrongKeys) {
  register_user(port(), "mia");
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"X-API-Key", "short"}},
           {{"X-API-Key", std::string(43, 'A')}},
           {{"Authorization", "Basic " + std::string(43, 'A')}}}) {
    auto r = http_request(port(), "POST", "/ws-ticket", "", headers);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.error_code(), "invalid_api_key");
  }
  EXPECT_EQ(http_request(port(), "GET", "/ws-ticket").status, 405);
}

TEST_P(RestApiTest, ResponsesAreNotCacheable) {
  auto r = post_register(port(), {{"Username", "noah"}, {"Password", "correct horse"}});
  EXPECT_EQ(r.header("cache-control"), "no-store");
}

TEST(RestApiLimits, RepeatedFailuresAreThrottledThenLifted) {
  TestServer server([](Settings& s) {
    s.login_free_failures = 3;
    s.login_lockout_base = 1;
  });
  register_user(server.port(), "olga", "the password");
  json wrong = {{"Username", "olga"}, {"Password", "wrong password"}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(http_post_json(server.port(), "/regenerate", wrong).status, 401);
  }
  auto locked = http_post_json(server.port(), "/regenerate",
                               {{"Username", "olga"}, {"Password", "the password"}});
  ASSERT_EQ(locked.status, 429);
  EXPECT_EQ(locked.error_code(), "too_many_attempts");
  int retry = std::stoi(locked.header("retry-after"));
  EXPECT_GE(retry, 1);
  // The lock-out is a span of time; waiting it out is what the real user does.
  std::this_thread::sleep_for(std::chrono::seconds(retry) + std::chrono::milliseconds(100));
  auto after = http_post_json(server.port(), "/regenerate",
                              {{"Username", "olga"}, {"Password", "the password"}});
  EXPECT_EQ(after.status, 200) << after.body;
}

TEST(RestApiLimits, HashQueueOverflowIs503) {
  TestServer server([](Settings& s) {
    s.worker_threads = 1;
    s.hash_queue_limit = 2;
    s.argon2_opslimit = 3;
    s.argon2_memlimit = 32 << 20;
  });
  constexpr int kRequests = 8;
  std::vector<std::future<HttpResult>> results;
  for (int i = 0; i < kRequests; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      return http_post_json(
          server.port(), "/register",
          {{"Username", "user" + std::to_string(i)}, {"Password", "correct horse"}});
    }));
  }
  int created = 0;
  int unavailable = 0;
  for (auto& f : results) {
    auto r = f.get();
    if (r.status == 201) ++created;
    if (r.status == 503) {
      ++unavailable;
      EXPECT_EQ(r.error_code(), "unavailable");
      EXPECT_FALSE(r.header("retry-after").empty());
    }
  }
  EXPECT_EQ(created + unavailable, kRequests);
  EXPECT_GE(created, 1);
  EXPECT_GE(unavailable, 1);
}

TEST(RestApiLimits, HealthzAnswersWhileHashesAreInFlight) {
  TestServer server([](Settings& s) {
    s.worker_threads = 1;
    s.argon2_opslimit = 3;
    s.argon2_memlimit = 32 << 20;
  });
  constexpr int kRequests = 6;
  std::atomic<int> finished{0};
  std::vector<std::future<int>> results;
  for (int i = 0; i < kRequests; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      auto r =
          http_post_json(server.port(), "/register",
                         {{"Username", "busy" + std::to_string(i)}, {"Password", "correct horse"}});
      ++finished;
      return r.status;
    }));
  }
  // One worker hashes the registrations one after another; /healthz runs on the I/O threads,
  // so it must come back while most of them are still queued.
  auto health = http_request(server.port(), "GET", "/healthz");
  int done_when_healthy = finished.load();
  EXPECT_EQ(health.status, 200);
  EXPECT_LT(done_when_healthy, kRequests);
  for (auto& f : results) EXPECT_EQ(f.get(), 201);
}

TEST(RestApiLimits, ConnectionsPerAddressAreBounded) {
  TestServer server([](Settings& s) { s.max_connections_per_ip = 2; });
  auto pam = register_user(server.port(), "pam");
  auto quinn = register_user(server.port(), "quinn");
  // The registrations' own connections may take a moment to be released by the server, so a
  // refused connect is retried (bounded) until both WebSockets hold their slots.
  auto connect = [&](const std::string& key) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto c = std::make_unique<WsClient>();
      if (c->connect(server.port(), "/ws", {{"X-API-Key", key}}) == 101) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::unique_ptr<WsClient>();
  };
  auto a = connect(pam.api_key);
  auto b = connect(quinn.api_key);
  ASSERT_TRUE(a && b);
  auto refused = http_request(server.port(), "GET", "/healthz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.error_code(), "unavailable");
}

}  // namespace
}  // namespace switchboard::test
