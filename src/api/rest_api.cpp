#include "switchboard/api/rest_api.hpp"

#include <nlohmann/json.hpp>

#include "switchboard/api/admin_api.hpp"
#include "switchboard/api/static_files.hpp"
#include "switchboard/api/validation.hpp"
#include "switchboard/auth/account_service.hpp"
#include "switchboard/auth/ticket_book.hpp"
#include "switchboard/ops/readiness_probe.hpp"
#include "switchboard/util/encoding.hpp"
#include "switchboard/util/json_depth.hpp"

namespace switchboard {

using json = nlohmann::json;

HttpResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = json{{"error", {{"code", code}, {"message", message}}}}.dump();
  return r;
}

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
      std::string out;
      if (percent_decode(pair.substr(eq + 1), out)) return out;
      return {};
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool is_json_media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto type = ascii_lower(content_type.substr(0, semi));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  return type == "application/json";
}

namespace {

HttpResponse json_response(unsigned status, json body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse account_error(const AccountFailure& f) {
  switch (f.error) {
    case AccountError::invalid_credentials:
      return error_response(401, "invalid_credentials", "Username or password is wrong.");
    case AccountError::invalid_api_key:
      return error_response(401, "invalid_api_key", "The API key is missing or not valid.");
    case AccountError::username_taken:
      return error_response(409, "username_taken", "That username is already registered.");
    case AccountError::too_many_attempts: {
      auto r = error_response(429, "too_many_attempts",
                              "Too many failed attempts; retry after the given seconds.");
      r.headers.emplace_back("Retry-After", std::to_string(f.retry_after.count()));
      return r;
    }
    case AccountError::unknown_user:  // the admin API's, answered there
    case AccountError::unavailable:
      break;
  }
  auto r = error_response(503, "unavailable", "The server is busy; try again shortly.");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

/// The checked body of an account request, or the 4xx that explains what is wrong with it.
struct Credentials {
  std::string username;
  std::string password;
  std::string new_password;
};

std::optional<HttpResponse> parse_credentials(const HttpRequest& req, bool with_new_password,
                                              Credentials& out) {
  if (!is_json_media_type(req.content_type)) {
    return error_response(415, "unsupported_media_type", "Send the body as application/json.");
  }
  auto parsed = parse_json(req.body);
  if (!parsed && parsed.error() == JsonError::too_deep) {
    return error_response(400, "invalid_json", "The body nests too deeply.");
  }
  if (!parsed || !parsed.value().is_object()) {
    return error_response(400, "invalid_json", "The body must be a JSON object.");
  }
  const json& body = parsed.value();
  struct Field {
    const char* name;
    const char* alias;
    std::string* into;
  };
  std::vector<Field> fields = {{"Username", "username", &out.username},
                               {"Password", "password", &out.password}};
  if (with_new_password) fields.push_back({"NewPassword", "new_password", &out.new_password});
  for (const auto& f : fields) {
    FieldProblem problem{};
    auto value = string_field(body, f.name, f.alias, problem);
    if (!value) {
      return error_response(
          400, "missing_field",
          std::string("Field ") + f.name +
              (problem == FieldProblem::missing ? " is required." : " must be a string."));
    }
    *f.into = std::move(*value);
  }
  if (!valid_username(out.username)) {
    return error_response(400, "invalid_username",
                          "Username must be 3 to 32 characters of A-Z a-z 0-9 _ . -");
  }
  if (!valid_password(out.password)) {
    return error_response(400, "invalid_password", "Password must be 8 to 128 bytes.");
  }
  if (with_new_password && !valid_password(out.new_password)) {
    return error_response(400, "invalid_password", "NewPassword must be 8 to 128 bytes.");
  }
  return std::nullopt;
}

HttpResponse method_not_allowed(const char* allow) {
  auto r = error_response(405, "method_not_allowed", std::string("Use ") + allow + ".");
  r.headers.emplace_back("Allow", allow);
  return r;
}

json account_json(const Account& a) {
  json j = {{"user_id", a.user_id}, {"username", a.username}};
  if (!a.api_key.empty()) j["api_key"] = a.api_key;
  return j;
}

}  // namespace

RestApi::RestApi(AccountService& accounts, TicketBook& tickets, const StaticFiles& files,
                 ReadinessProbe& readiness)
    : accounts_(accounts), tickets_(tickets), files_(files), readiness_(readiness) {}

void RestApi::handle(HttpRequest req, const boost::asio::any_io_executor& ex, Respond respond) {
  if (shutting_down_) {
    respond(error_response(503, "unavailable", "The server is shutting down."));
    return;
  }
  // Without an admin API, /admin/ paths go on below like any other: answered exactly as an
  // unknown path is, so that nothing tells the API exists.
  if (admin_ && req.path.starts_with("/admin/")) return admin_->handle(req, ex, std::move(respond));
  using Handler =
      void (RestApi::*)(const HttpRequest&, const boost::asio::any_io_executor&, Respond);
  struct PostRoute {
    const char* path;
    Handler handler;
  };
  static const PostRoute post_routes[] = {
      {"/register", &RestApi::post_register},
      {"/updatepassword", &RestApi::post_update_password},
      {"/regenerate", &RestApi::post_regenerate},
      {"/ws-ticket", &RestApi::post_ws_ticket},
  };
  for (const auto& route : post_routes) {
    if (req.path != route.path) continue;
    if (req.method != "POST") return respond(method_not_allowed("POST"));
    return (this->*route.handler)(req, ex, std::move(respond));
  }
  bool get = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/healthz") {
    if (!get) return respond(method_not_allowed("GET"));
    return respond(json_response(200, {{"status", "ok"}}));
  }
  if (req.path == "/readyz") {
    if (!get) return respond(method_not_allowed("GET"));
    return get_readyz(ex, std::move(respond));
  }
  if (req.path == "/metrics" && metrics_page_) {
    if (!get) return respond(method_not_allowed("GET, HEAD"));
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_page_();
    return respond(std::move(r));
  }
  if (req.path == "/ws") {
    if (req.method != "GET") return respond(method_not_allowed("GET"));
    auto r = error_response(426, "upgrade_required", "GET /ws must be a WebSocket upgrade.");
    r.headers.emplace_back("Upgrade", "websocket");
    return respond(std::move(r));
  }
  if (auto file = files_.serve(req.path, req.if_none_match)) {
    if (!get) return respond(method_not_allowed("GET, HEAD"));
    return respond(std::move(*file));
  }
  respond(error_response(404, "not_found", "No such resource."));
}

void RestApi::post_register(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                            Respond respond) {
  Credentials c;
  if (auto bad = parse_credentials(req, false, c)) return respond(std::move(*bad));
  accounts_.register_user(ex, std::move(c.username), std::move(c.password),
                          [respond](Result<Account, AccountFailure> r) {
                            if (!r) return respond(account_error(r.error()));
                            respond(json_response(201, account_json(r.value())));
                          });
}

void RestApi::post_update_password(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                                   Respond respond) {
  Credentials c;
  if (auto bad = parse_credentials(req, true, c)) return respond(std::move(*bad));
  accounts_.change_password(ex, std::move(c.username), std::move(c.password),
                            std::move(c.new_password), req.client_address,
                            [respond](Result<Account, AccountFailure> r) {
                              if (!r) return respond(account_error(r.error()));
                              respond(json_response(200, account_json(r.value())));
                            });
}

void RestApi::post_regenerate(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                              Respond respond) {
  Credentials c;
  if (auto bad = parse_credentials(req, false, c)) return respond(std::move(*bad));
  accounts_.regenerate_key(ex, std::move(c.username), std::move(c.password), req.client_address,
                           [respond](Result<Account, AccountFailure> r) {
                             if (!r) return respond(account_error(r.error()));
                             respond(json_response(200, account_json(r.value())));
                           });
}

void RestApi::post_ws_ticket(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                             Respond respond) {
  accounts_.authenticate_key(ex, req.api_key, [this, respond](Result<Identity, AccountFailure> r) {
    if (!r) return respond(account_error(r.error()));
    auto ttl = tickets_.ttl().count();
    tickets_.issue(r.value(), [respond, ttl](Result<std::string, TicketsUnavailable> ticket) {
      if (!ticket) return respond(account_error({AccountError::unavailable}));
      respond(json_response(200, {{"ticket", ticket.value()}, {"expires_in", ttl}}));
    });
  });
}

void RestApi::get_readyz(const boost::asio::any_io_executor& ex, Respond respond) {
  readiness_.check(ex, [respond](Readiness r) {
    HttpResponse out;
    switch (r) {
      case Readiness::ready:
        return respond(json_response(200, {{"status", "ready"}}));
      case Readiness::draining:
        return respond(error_response(503, "unavailable",
                                      "The server is draining before it stops; use another."));
      case Readiness::store_unavailable:
        out = error_response(503, "unavailable", "The account store does not answer.");
        break;
      case Readiness::busy:
        out = error_response(503, "unavailable", "The server is busy; try again shortly.");
        break;
      case Readiness::cluster_unavailable:
        out = error_response(503, "unavailable", "The cluster's Redis does not answer.");
        break;
    }
    out.headers.emplace_back("Retry-After", "1");
    respond(std::move(out));
  });
}

}  // namespace switchboard
