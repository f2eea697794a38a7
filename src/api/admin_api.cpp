#include "switchboard/api/admin_api.hpp"

#include <sodium.h>

#include <boost/asio/dispatch.hpp>

#include <nlohmann/json.hpp>
#include <vector>

#include "switchboard/auth/account_service.hpp"
#include "switchboard/signaling/hub.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/encoding.hpp"
#include "switchboard/util/json_depth.hpp"
#include "switchboard/util/logging.hpp"

namespace switchboard {

using json = nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "/admin/";
constexpr std::string_view kDefaultReason = "closed_by_admin";

std::array<unsigned char, 32> digest(std::string_view text) {
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return out;
}

HttpResponse json_response(unsigned status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse not_found() {
  return error_response(404, "not_found", "No such resource.");
}

HttpResponse method_not_allowed(const char* allow) {
  auto r = error_response(405, "method_not_allowed", std::string("Use ") + allow + ".");
  r.headers.emplace_back("Allow", allow);
  return r;
}

HttpResponse unavailable() {
  auto r = error_response(503, "unavailable", "The server is busy; try again shortly.");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse user_not_found() {
  return error_response(404, "user_not_found", "No account has this user id.");
}

HttpResponse room_not_found() {
  return error_response(404, "room_not_found", "No such room.");
}

/// The hub's shared state could not be asked (a cluster's Redis is down).
HttpResponse hub_unavailable(const HubUnavailable& e) {
  log_warn("admin request: rooms unavailable", {{"error", e.message}});
  return unavailable();
}

HttpResponse account_failure(const AccountFailure& f) {
  return f.error == AccountError::unknown_user ? user_not_found() : unavailable();
}

/// A body, when there is one, must be JSON (protocol.md section 1).
std::optional<HttpResponse> check_media_type(const HttpRequest& req) {
  if (req.body.empty() || is_json_media_type(req.content_type)) return std::nullopt;
  return error_response(415, "unsupported_media_type", "Send the body as application/json.");
}

/// Whether the query names parameter `name` at all (query_param cannot tell absent from empty).
bool has_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == name) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

std::vector<std::string_view> split_path(std::string_view rest) {
  std::vector<std::string_view> out;
  for (;;) {
    auto slash = rest.find('/');
    out.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    rest.remove_prefix(slash + 1);
  }
}

json rooms_json(const std::vector<RoomView>& rooms) {
  json out = json::array();
  for (const auto& r : rooms) {
    out.push_back({{"room_id", r.room_id}, {"host", r.host}, {"members", r.members}});
  }
  return out;
}

}  // namespace

AdminApi::AdminApi(std::string_view token, Hub& hub, AccountService& accounts)
    : token_digest_(digest(token)), hub_(hub), accounts_(accounts) {}

bool AdminApi::authorized(std::string_view presented) const {
  // Digests of equal length compared in constant time: neither the content nor the length of
  // the configured token shows in how long a wrong guess takes to be refused.
  auto theirs = digest(presented);
  return sodium_memcmp(theirs.data(), token_digest_.data(), theirs.size()) == 0;
}

void AdminApi::handle(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                      Respond respond) {
  // Whatever answers later (the account store, a cluster's hub) answers on `ex`; an answer
  // given at once, on `ex` already, goes out in place.
  respond = [ex, inner = std::move(respond)](HttpResponse r) {
    boost::asio::dispatch(ex, [inner, r = std::move(r)]() mutable { inner(std::move(r)); });
  };
  // The token first, before the path, the method or the body: without it, every admin path
  // answers the same 401 and nothing tells which ones exist or what they take.
  if (req.bearer.empty() || !authorized(req.bearer)) {
    auto r = error_response(401, "invalid_admin_token",
                            "Send Authorization: Bearer with the admin token.");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return respond(std::move(r));
  }
  auto parts = split_path(std::string_view(req.path).substr(kPrefix.size()));
  bool get = req.method == "GET" || req.method == "HEAD";
  if (parts[0] == "rooms" && parts.size() == 1) {
    if (!get) return respond(method_not_allowed("GET"));
    return list_rooms(req, respond);
  }
  if (parts[0] == "rooms" && parts.size() == 2 && !parts[1].empty()) {
    std::string room_id(parts[1]);
    if (get) return get_room(room_id, respond);
    if (req.method == "DELETE") return close_room(req, room_id, respond);
    return respond(method_not_allowed("GET, DELETE"));
  }
  bool user_path = parts[0] == "users" && parts.size() >= 2 && !parts[1].empty() &&
                   (parts.size() == 2 || (parts.size() == 3 && parts[2] == "disconnect"));
  if (!user_path) return respond(not_found());
  bool disconnect = parts.size() == 3;
  if (disconnect && req.method != "POST") return respond(method_not_allowed("POST"));
  if (!disconnect && !get && req.method != "DELETE") {
    return respond(method_not_allowed("GET, DELETE"));
  }
  if (auto bad = check_media_type(req)) return respond(std::move(*bad));
  auto user = parse_decimal(parts[1]);
  if (!user) {
    return respond(error_response(400, "invalid_user_id", "A user id is a decimal integer."));
  }
  // No account has id 0; the store is not asked.
  if (*user == 0) return respond(user_not_found());
  if (disconnect) return disconnect_user(*user, ex, std::move(respond));
  if (get) return get_user(*user, ex, std::move(respond));
  delete_user(*user, ex, std::move(respond));
}

void AdminApi::list_rooms(const HttpRequest& req, const Respond& respond) {
  std::size_t limit = kDefaultPage;
  if (has_param(req.query, "limit")) {
    auto n = parse_decimal(query_param(req.query, "limit"));
    if (!n || *n < 1 || *n > kMaxPage) {
      return respond(
          error_response(400, "invalid_query",
                         "limit must be an integer from 1 to " + std::to_string(kMaxPage) + "."));
    }
    limit = static_cast<std::size_t>(*n);
  }
  std::string after = query_param(req.query, "after");
  if (after.size() > kMaxRoomIdLength) {
    return respond(error_response(400, "invalid_query",
                                  "after must be a room id from an earlier page's next."));
  }
  hub_.list_rooms(after, limit, [respond](Result<RoomManager::Page, HubUnavailable> r) {
    if (!r) return respond(hub_unavailable(r.error()));
    const auto& page = r.value();
    json rooms = json::array();
    for (const auto& room : page.rooms) {
      rooms.push_back({{"room_id", room.room_id},
                       {"host", room.host},
                       {"members", room.members},
                       {"max_members", room.max_members}});
    }
    respond(json_response(200, {{"rooms", std::move(rooms)},
                                {"next", page.next ? json(*page.next) : json(nullptr)}}));
  });
}

void AdminApi::get_room(const std::string& room_id, const Respond& respond) {
  if (room_id.size() > kMaxRoomIdLength) return respond(room_not_found());
  hub_.room(room_id, [respond](Result<std::optional<RoomManager::Detail>, HubUnavailable> r) {
    if (!r) return respond(hub_unavailable(r.error()));
    const auto& room = r.value();
    if (!room) return respond(room_not_found());
    respond(json_response(200, {{"room_id", room->room_id},
                                {"host", room->host},
                                {"members", room->members},
                                {"ready", room->ready},
                                {"max_members", room->max_members}}));
  });
}

void AdminApi::close_room(const HttpRequest& req, const std::string& room_id,
                          const Respond& respond) {
  if (auto bad = check_media_type(req)) return respond(std::move(*bad));
  std::string reason(kDefaultReason);
  if (!req.body.empty()) {
    auto parsed = parse_json(req.body);
    if (!parsed || !parsed.value().is_object()) {
      return respond(error_response(400, "invalid_json", "The body must be a JSON object."));
    }
    if (auto it = parsed.value().find("reason"); it != parsed.value().end()) {
      if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
          it->get_ref<const std::string&>().size() > kMaxReason) {
        return respond(error_response(
            400, "invalid_reason",
            "reason must be a string of 1 to " + std::to_string(kMaxReason) + " bytes."));
      }
      reason = it->get<std::string>();
    }
  }
  if (room_id.size() > kMaxRoomIdLength) return respond(room_not_found());
  hub_.close_room(
      room_id, reason,
      [respond, room_id, reason](Result<std::optional<std::vector<UserId>>, HubUnavailable> r) {
        if (!r) return respond(hub_unavailable(r.error()));
        if (!r.value()) return respond(room_not_found());
        respond(json_response(200,
                              {{"room_id", room_id}, {"reason", reason}, {"members", *r.value()}}));
      });
}

void AdminApi::get_user(UserId user, const boost::asio::any_io_executor& ex, Respond respond) {
  accounts_.find_user(ex, user, [this, respond](Result<Account, AccountFailure> r) {
    if (!r) return respond(account_failure(r.error()));
    Account account = r.value();
    hub_.presence(account.user_id, [respond, account](Result<Hub::Presence, HubUnavailable> p) {
      if (!p) return respond(hub_unavailable(p.error()));
      respond(json_response(200, {{"user_id", account.user_id},
                                  {"username", account.username},
                                  {"online", p.value().online},
                                  {"rooms", rooms_json(p.value().rooms)}}));
    });
  });
}

void AdminApi::disconnect_user(UserId user, const boost::asio::any_io_executor& ex,
                               Respond respond) {
  accounts_.find_user(ex, user, [this, respond](Result<Account, AccountFailure> r) {
    if (!r) return respond(account_failure(r.error()));
    UserId id = r.value().user_id;
    hub_.disconnect_user(
        id, CloseCode::disconnected, "disconnected by an administrator",
        [respond, id](Result<bool, HubUnavailable> had) {
          if (!had) return respond(hub_unavailable(had.error()));
          respond(json_response(200, {{"user_id", id}, {"disconnected", had.value()}}));
        });
  });
}

void AdminApi::delete_user(UserId user, const boost::asio::any_io_executor& ex, Respond respond) {
  accounts_.delete_user(ex, user, [this, respond](Result<Account, AccountFailure> r) {
    if (!r) return respond(account_failure(r.error()));
    // The key no longer opens anything (AccountService revoked it): now what it has open.
    // The account is gone whatever the hub answers: a cluster whose Redis is down still
    // says so (its daemons close the key's connections when they check it, 4001).
    Account account = r.value();
    hub_.disconnect_user(account.user_id, CloseCode::key_revoked, "account deleted",
                         [respond, account](Result<bool, HubUnavailable> had) {
                           respond(json_response(200, {{"user_id", account.user_id},
                                                       {"username", account.username},
                                                       {"deleted", true},
                                                       {"disconnected", had && had.value()}}));
                         });
  });
}

}  // namespace switchboard
