// Fuzzes the HTTP request path below the socket: raw bytes go through Beast's request parser
// with the daemon's limits, then to_http_request and RestApi::handle, wired to a real
// AccountService on a SQLite file and an admin API (ADMIN_TOKEN set) over a real SignalingHub
// that always holds a room. Whatever the bytes, the answer must come (bounded), be one of the
// statuses of protocol.md sections 1 and 5 (docs/admin.md), and be JSON of the documented
// shape; an admin path answers 401 exactly when the bearer token is not the admin's.
#include <spdlog/spdlog.h>

#include <unistd.h>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/api/admin_api.hpp"
#include "switchboard/api/rest_api.hpp"
#include "switchboard/api/static_files.hpp"
#include "switchboard/auth/account_service.hpp"
#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/login_throttle.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/auth/ticket_store.hpp"
#include "switchboard/net/request_adapter.hpp"
#include "switchboard/ops/readiness_probe.hpp"
#include "switchboard/signaling/signaling_hub.hpp"
#include "switchboard/store/sqlite_user_store.hpp"
#include "switchboard/util/json_depth.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using json = nlohmann::json;
using namespace switchboard;

constexpr std::size_t kHeaderLimit = 8192;
constexpr std::size_t kBodyLimit = 8192;
constexpr auto kAnswerBound = std::chrono::seconds(5);
/// The fuzzed daemon's ADMIN_TOKEN (the dictionary has it in an Authorization header).
constexpr std::string_view kAdminToken = "fuzz-admin-token-0123456789abcdefghij";

/// A member for the hub's rooms: takes messages and drops them; closed (an admin disconnect
/// or delete), it leaves the hub as a session's end does.
class NullPeer : public Peer {
 public:
  explicit NullPeer(SignalingHub& hub) : Peer(Identity{1, "fuzz", "hash"}), hub_(hub) {}
  void deliver(SharedText) override {}
  void close(CloseCode, std::string_view) override { hub_.disconnect(*this); }

 private:
  SignalingHub& hub_;
};

/// A steady clock that moves one second per input, so that login throttling both engages and
/// wears off within a run, and a run replays the same way.
std::chrono::steady_clock::time_point g_now{};
std::chrono::steady_clock::time_point fake_now() {
  return g_now;
}

/// The daemon's account stack, built once per process on a SQLite file in a temp dir.
struct Stack {
  std::filesystem::path dir;
  std::optional<SqliteUserStore> store;
  PasswordHasher hasher{1, 8192};
  WorkerPool pool{1, 16};
  CredentialCache credentials;
  TicketStore tickets{std::chrono::seconds(30), 1000, fake_now};
  LoginThrottle account_throttle{5, std::chrono::seconds(1), std::chrono::seconds(4), fake_now};
  LoginThrottle address_throttle{20, std::chrono::seconds(1), std::chrono::seconds(4), fake_now};
  std::optional<AccountService> accounts;
  StaticFiles files{""};
  std::optional<ReadinessProbe> readiness;
  std::optional<RestApi> api;
  // Room ids room-1, room-2, ...: the dictionary names the first few.
  SignalingHub hub{RoomLimits{}, [n = 0]() mutable { return "room-" + std::to_string(++n); }};
  std::shared_ptr<NullPeer> member;
  std::optional<AdminApi> admin;
  std::vector<std::string> trusted_proxies{"127.0.0.1"};
  // One for the process, like the daemon's: a worker may still be returning from posting an
  // answer to it when the input that asked has ended.
  net::io_context ioc;

  Stack() {
    // tmpfs where there is one: synchronous=FULL costs an fsync per registration.
    std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    dir = base / ("switchboard-fuzz-http-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    store.emplace((dir / "fuzz.db").string());
    accounts.emplace(*store, hasher, pool, credentials, tickets, account_throttle,
                     address_throttle);
    readiness.emplace(*store, pool);
    api.emplace(*accounts, tickets, files, *readiness);
    admin.emplace(kAdminToken, hub, *accounts);
    api->set_admin(&*admin);
  }

  /// A room for the admin routes to find, again after one closed it or its member went.
  void ensure_room() {
    if (hub.room_count() > 0) return;
    member = std::make_shared<NullPeer>(hub);
    hub.connect(member);
    hub.handle(*member, R"({"msg_type":0})");
  }
};

Stack& stack() {
  // Never destroyed: worker threads may outlive main's return; the files go at exit.
  static Stack* s = [] {
    spdlog::set_level(spdlog::level::off);
    auto* made = new Stack();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(stack().dir, ec);
    });
    return made;
  }();
  return *s;
}

[[noreturn]] void fail(const std::string& what, const HttpRequest& req, const HttpResponse* res) {
  std::fprintf(stderr, "invariant broken: %s\nrequest: %s %s?%s content-type=[%s] body=[%.500s]\n",
               what.c_str(), req.method.c_str(), req.path.c_str(), req.query.c_str(),
               req.content_type.c_str(), req.body.c_str());
  if (res) std::fprintf(stderr, "response: %u %.1000s\n", res->status, res->body.c_str());
  std::abort();
}

/// protocol.md section 1: every error code with the one status that carries it.
const std::map<std::string, unsigned>& error_statuses() {
  static const std::map<std::string, unsigned> m = {
      {"invalid_json", 400},
      {"missing_field", 400},
      {"invalid_username", 400},
      {"invalid_password", 400},
      {"username_taken", 409},
      {"invalid_credentials", 401},
      {"invalid_api_key", 401},
      {"not_found", 404},
      {"method_not_allowed", 405},
      {"body_too_large", 413},
      {"unsupported_media_type", 415},
      {"upgrade_required", 426},
      {"headers_too_large", 431},
      {"too_many_attempts", 429},
      {"origin_not_allowed", 403},
      {"unavailable", 503},
      // The admin API's (docs/admin.md).
      {"invalid_admin_token", 401},
      {"room_not_found", 404},
      {"user_not_found", 404},
      {"invalid_user_id", 400},
      {"invalid_query", 400},
      {"invalid_reason", 400},
  };
  return m;
}

std::optional<std::string> header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

bool is_api_key(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() != 43) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_account(const json& body, bool with_key) {
  if (!body.is_object() || body.size() != (with_key ? 3u : 2u)) return false;
  if (!body.contains("user_id") || !body["user_id"].is_number_unsigned()) return false;
  if (!body.contains("username") || !body["username"].is_string()) return false;
  return !with_key || (body.contains("api_key") && is_api_key(body["api_key"]));
}

/// The spec's format checks for an account request, written out independently of the API:
/// the status a malformed request must get, or nullopt when it is well-formed (and may then
/// get only a credential or account answer). Format errors come before credentials.
std::optional<unsigned> format_status(const HttpRequest& req, bool with_new_password) {
  std::string type = req.content_type.substr(0, req.content_type.find(';'));
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  if (type != "application/json") return 415;
  if (json_too_deep(req.body)) return 400;
  // JSON (RFC 8259) has no raw NUL byte (in a string it is escaped) and no byte-order mark;
  // nlohmann alone reads past both (a NUL ends its input), the daemon refuses them (parse_json).
  if (req.body.find('\0') != std::string::npos || req.body.starts_with("\xEF\xBB\xBF")) return 400;
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return 400;
  auto field = [&](const char* name, const char* alias) -> const json* {
    if (body.contains(name)) return &body[name];
    if (body.contains(alias)) return &body[alias];
    return nullptr;
  };
  const json* user = field("Username", "username");
  const json* pass = field("Password", "password");
  const json* fresh = with_new_password ? field("NewPassword", "new_password") : nullptr;
  if (!user || !user->is_string() || !pass || !pass->is_string()) return 400;
  if (with_new_password && (!fresh || !fresh->is_string())) return 400;
  const auto& name = user->get_ref<const std::string&>();
  bool name_ok = name.size() >= 3 && name.size() <= 32;
  for (char c : name) {
    name_ok = name_ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-');
  }
  if (!name_ok) return 400;
  auto password_ok = [](const json* p) {
    auto n = p->get_ref<const std::string&>().size();
    return n >= 8 && n <= 128;
  };
  if (!password_ok(pass) || (with_new_password && !password_ok(fresh))) return 400;
  return std::nullopt;
}

bool has_keys(const json& body, std::initializer_list<const char*> keys) {
  if (!body.is_object() || body.size() != keys.size()) return false;
  return std::all_of(keys.begin(), keys.end(), [&](const char* k) { return body.contains(k); });
}

bool is_id_list(const json& v) {
  return v.is_array() &&
         std::all_of(v.begin(), v.end(), [](const json& id) { return id.is_number_unsigned(); });
}

/// An admin answer of the documented shape for what was asked (docs/admin.md).
bool admin_shaped(const HttpRequest& req, const HttpResponse& res, const json& body) {
  if (res.status != 200) return false;
  std::string_view path(req.path);
  bool get = req.method == "GET" || req.method == "HEAD";
  if (path == "/admin/rooms") {
    return get && has_keys(body, {"rooms", "next"}) && body["rooms"].is_array() &&
           (body["next"].is_null() || body["next"].is_string());
  }
  if (path.starts_with("/admin/rooms/")) {
    if (get) {
      return has_keys(body, {"room_id", "host", "members", "ready", "max_members"}) &&
             is_id_list(body["members"]) && is_id_list(body["ready"]) && !body["members"].empty() &&
             body["host"] == body["members"][0];
    }
    return req.method == "DELETE" && has_keys(body, {"room_id", "reason", "members"}) &&
           body["reason"].is_string() && is_id_list(body["members"]);
  }
  if (path.ends_with("/disconnect")) {
    return req.method == "POST" && has_keys(body, {"user_id", "disconnected"});
  }
  if (get) return has_keys(body, {"user_id", "username", "online", "rooms"});
  return req.method == "DELETE" &&
         has_keys(body, {"user_id", "username", "deleted", "disconnected"});
}

void check_response(const HttpRequest& req, const HttpResponse& res) {
  if (res.content_type != "application/json") fail("content type is not JSON", req, &res);
  // The admin API: the token before anything else, and only the token.
  if (req.path.starts_with("/admin/")) {
    bool right_token = req.bearer == kAdminToken;
    if (right_token == (res.status == 401)) {
      fail(right_token ? "the admin token was refused" : "an admin path answered without the token",
           req, &res);
    }
    if (res.status == 401 && header(res, "WWW-Authenticate") != "Bearer") {
      fail("401 without WWW-Authenticate: Bearer", req, &res);
    }
  }
  json body = json::parse(res.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) fail("body is not a JSON object", req, &res);
  if (res.body.find("$argon2") != std::string::npos) fail("a password hash leaked", req, &res);

  bool account_request =
      req.method == "POST" &&
      (req.path == "/register" || req.path == "/updatepassword" || req.path == "/regenerate");
  if (account_request) {
    auto expected = format_status(req, req.path == "/updatepassword");
    if (expected && res.status != *expected) {
      fail("a malformed account request did not get " + std::to_string(*expected), req, &res);
    }
    if (!expected && (res.status == 400 || res.status == 415)) {
      fail("a well-formed account request was refused as malformed", req, &res);
    }
  }

  if (res.status >= 400) {
    if (body.size() != 1 || !body.contains("error") || !body["error"].is_object()) {
      fail("error body is not {\"error\": {...}}", req, &res);
    }
    json& e = body["error"];
    if (e.size() != 2 || !e.contains("code") || !e["code"].is_string() || !e.contains("message") ||
        !e["message"].is_string() || e["message"].get_ref<const std::string&>().empty()) {
      fail("error is not {code, message}", req, &res);
    }
    auto code = e["code"].get<std::string>();
    auto it = error_statuses().find(code);
    if (it == error_statuses().end()) fail("error code not in the spec: " + code, req, &res);
    if (it->second != res.status) fail("status does not match code " + code, req, &res);
    if (res.status == 405 && !header(res, "Allow")) fail("405 without Allow", req, &res);
    if (res.status == 429 && !header(res, "Retry-After"))
      fail("429 without Retry-After", req, &res);
    if (res.status == 426 && !header(res, "Upgrade")) fail("426 without Upgrade", req, &res);
    return;
  }

  // Successes: exactly the documented shape for the endpoint that was asked.
  bool shaped = false;
  if (req.path.starts_with("/admin/")) {
    shaped = admin_shaped(req, res, body);
  } else if (req.path == "/register") {
    shaped = res.status == 201 && req.method == "POST" && is_account(body, true);
  } else if (req.path == "/updatepassword") {
    shaped = res.status == 200 && req.method == "POST" && is_account(body, false);
  } else if (req.path == "/regenerate") {
    shaped = res.status == 200 && req.method == "POST" && is_account(body, true);
  } else if (req.path == "/ws-ticket") {
    shaped = res.status == 200 && req.method == "POST" && body.size() == 2 &&
             body.contains("ticket") && body["ticket"].is_string() &&
             !body["ticket"].get_ref<const std::string&>().empty() && body.contains("expires_in") &&
             body["expires_in"] == 30;
  } else if (req.path == "/healthz") {
    shaped = res.status == 200 && (req.method == "GET" || req.method == "HEAD") &&
             body == json{{"status", "ok"}};
  } else if (req.path == "/readyz") {
    shaped = res.status == 200 && (req.method == "GET" || req.method == "HEAD") &&
             body == json{{"status", "ready"}};
  }
  if (!shaped) fail("success status with an undocumented shape", req, &res);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Stack& s = stack();
  g_now += std::chrono::seconds(1);
  s.ensure_room();

  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && !parser.is_done()) {
    std::size_t used = parser.put(net::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more && used > 0) {
      ec = {};
      continue;
    }
    break;
  }
  // The daemon answers a malformed or oversized request itself (400, 413, 431) without
  // reaching the API; an incomplete one just waits for more bytes.
  if (ec || !parser.is_done()) return 0;

  HttpRequest req = to_http_request(parser.get(), "127.0.0.1", s.trusted_proxies);
  // The upgrade path reads ?ticket= (percent-decoded) before anything else: exercise it too.
  std::string ticket = query_param(req.query, "ticket");
  if (ticket.size() > req.query.size())
    fail("a decoded ticket longer than its query", req, nullptr);
  // And ?resume=&last_seq=: a session to ask for, never longer than the query, or none.
  if (auto resume = resume_request(req.query)) {
    if (resume->session.empty() || resume->session.size() > req.query.size()) {
      fail("a resume request that the query does not hold", req, nullptr);
    }
  }
  const HttpRequest copy = req;
  net::io_context& ioc = s.ioc;
  std::optional<HttpResponse> answer;
  int calls = 0;
  s.api->handle(std::move(req), ioc.get_executor(), [&](HttpResponse r) {
    ++calls;
    answer = std::move(r);
  });
  auto deadline = std::chrono::steady_clock::now() + kAnswerBound;
  while (!answer && std::chrono::steady_clock::now() < deadline) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(100));
  }
  if (!answer) fail("no answer within the bound", copy, nullptr);
  // Anything still queued (there should be nothing) runs now, to catch a second respond().
  ioc.restart();
  ioc.poll();
  if (calls != 1) fail("respond called more than once", copy, &*answer);
  check_response(copy, *answer);
  return 0;
}
