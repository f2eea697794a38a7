#include "switchboard/cluster/cluster_envelope.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

namespace {

using json = nlohmann::json;

struct KindName {
  ClusterEnvelope::Kind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {ClusterEnvelope::Kind::room_event, "room"}, {ClusterEnvelope::Kind::replace, "replace"},
    {ClusterEnvelope::Kind::revoke, "revoke"},   {ClusterEnvelope::Kind::close, "close"},
    {ClusterEnvelope::Kind::parked, "parked"},   {ClusterEnvelope::Kind::adopt, "adopt"}};

struct EventName {
  MsgType type;
  const char* name;
};
constexpr EventName kEvents[] = {{MsgType::room_joined, "room_joined"},
                                 {MsgType::peer_joined, "peer_joined"},
                                 {MsgType::peer_ready, "peer_ready"},
                                 {MsgType::peer_left, "peer_left"},
                                 {MsgType::room_closed, "room_closed"}};

std::optional<UserId> parse_user(std::string_view s) {
  UserId u = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return u;
}

std::string user_list(const std::vector<UserId>& users) {
  std::string out;
  for (UserId u : users) {
    if (!out.empty()) out += ',';
    out += std::to_string(u);
  }
  return out;
}

std::optional<std::vector<UserId>> parse_user_list(std::string_view s) {
  std::vector<UserId> out;
  while (true) {
    auto comma = s.find(',');
    auto u = parse_user(s.substr(0, comma));
    if (!u) return std::nullopt;
    out.push_back(*u);
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

/// A user id as the scripts write it (a decimal string); a JSON number is taken too.
std::optional<UserId> user_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_string()) return parse_user(it->get_ref<const std::string&>());
  if (it->is_number_unsigned()) return it->get<UserId>();
  return std::nullopt;
}

/// An array of user ids (decimal strings, or numbers) appended to `out`; false if any is not.
bool user_array(const json& a, std::vector<UserId>& out) {
  for (const auto& t : a) {
    std::optional<UserId> u;
    if (t.is_string()) u = parse_user(t.get_ref<const std::string&>());
    if (t.is_number_unsigned()) u = t.get<UserId>();
    if (!u) return false;
    out.push_back(*u);
  }
  return true;
}

std::optional<std::string> string_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

/// A count the scripts write as a decimal string (what HGET answers), or a JSON number.
std::optional<std::uint64_t> count_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_string()) return parse_decimal(it->get_ref<const std::string&>());
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  return std::nullopt;
}

/// A list of strings. Lua's cjson writes an empty list as {}: taken as empty too.
bool string_list(const json& j, const char* key, std::vector<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  if (it->is_object() && it->empty()) return true;
  if (!it->is_array()) return false;
  for (const auto& s : *it) {
    if (!s.is_string()) return false;
    out.push_back(s.get<std::string>());
  }
  return true;
}

/// An adopted session's numbering and what it carries along (see the header).
std::optional<std::string> decode_adopt(const json& j, ClusterEnvelope& e) {
  auto session = string_field(j, "session");
  auto next_seq = count_field(j, "next_seq");
  auto client_seq = count_field(j, "client_seq");
  std::vector<std::string> kept;
  if (!session || !next_seq || *next_seq == 0 || !client_seq || !string_list(j, "kept", kept) ||
      !string_list(j, "held", e.held)) {
    return "adopt without its session state";
  }
  e.session = std::move(*session);
  e.next_seq = *next_seq;
  e.client_seq = *client_seq;
  // Each kept message is "<seq> <text>", in rising seq order below next_seq.
  std::uint64_t last = 0;
  for (auto& k : kept) {
    auto space = k.find(' ');
    auto seq = parse_decimal(std::string_view(k).substr(0, space));
    if (space == std::string::npos || !seq || *seq <= last || *seq >= e.next_seq) {
      return "adopt with a kept message out of order";
    }
    last = *seq;
    e.kept.push_back({*seq, k.substr(space + 1)});
  }
  return std::nullopt;
}
Result<ClusterEnvelope, std::string> decode_json(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::string("neither a delivery nor JSON");
  auto kind_name = string_field(j, "k");
  if (!kind_name) return std::string("no kind");
  ClusterEnvelope e;
  const KindName* kind = nullptr;
  for (const auto& k : kKinds) {
    if (*kind_name == k.name) kind = &k;
  }
  if (!kind) return "unknown kind " + *kind_name;
  e.kind = kind->kind;
  auto user = user_field(j, "user");
  if (!user) return "no user in " + *kind_name;
  e.user = *user;
  switch (e.kind) {
    case ClusterEnvelope::Kind::room_event: {
      auto ev = string_field(j, "ev");
      auto room = string_field(j, "room");
      auto to = j.find("to");
      if (!ev || !room || to == j.end() || !to->is_array()) return std::string("bad room event");
      const EventName* event = nullptr;
      for (const auto& n : kEvents) {
        if (*ev == n.name) event = &n;
      }
      if (!event) return "unknown room event " + *ev;
      e.type = event->type;
      e.room_id = std::move(*room);
      if (!user_array(*to, e.to)) return std::string("bad recipient");
      if (e.type == MsgType::room_joined) {
        auto members = j.find("members");
        if (members == j.end() || !members->is_array() || members->empty() ||
            !user_array(*members, e.members)) {
          return std::string("room_joined without its members");
        }
        e.host = e.members.front();
      }
      if (e.type == MsgType::peer_left) e.host = user_field(j, "host").value_or(0);
      if (e.type == MsgType::room_closed) e.reason = string_field(j, "reason").value_or("");
      break;
    }
    case ClusterEnvelope::Kind::replace: {
      auto conn = string_field(j, "conn");
      if (!conn) return std::string("replace without conn");
      e.conn = std::move(*conn);
      break;
    }
    case ClusterEnvelope::Kind::revoke: {
      auto hex = string_field(j, "key_hash");
      if (!hex) return std::string("revoke without key_hash");
      auto hash = hex_decode(*hex);
      if (!hash) return std::string("revoke with a key_hash that is not hex");
      e.key_hash = std::move(*hash);
      break;
    }
    case ClusterEnvelope::Kind::close:
    case ClusterEnvelope::Kind::parked: {
      auto code = count_field(j, "code");
      if (!code || *code > 4999 || *code < 1000) return *kind_name + " without a close code";
      e.code = static_cast<std::uint16_t>(*code);
      e.reason = string_field(j, "reason").value_or("");
      if (e.kind == ClusterEnvelope::Kind::close) break;
      auto conn = string_field(j, "conn");
      auto session = string_field(j, "session");
      if (!conn || !session) return std::string("parked without its connection and session");
      e.conn = std::move(*conn);
      e.session = std::move(*session);
      break;
    }
    case ClusterEnvelope::Kind::adopt: {
      auto conn = string_field(j, "conn");
      if (!conn) return std::string("adopt without conn");
      e.conn = std::move(*conn);
      if (auto why = decode_adopt(j, e)) return *why;
      break;
    }
    case ClusterEnvelope::Kind::deliver:
      break;  // not a JSON shape
  }
  return e;
}

}  // namespace

std::string encode_envelope(const ClusterEnvelope& e) {
  if (e.kind == ClusterEnvelope::Kind::deliver) {
    std::string out = "D " + user_list(e.to);
    out += '\n';
    out += e.text;
    return out;
  }
  json j;
  for (const auto& k : kKinds) {
    if (k.kind == e.kind) j["k"] = k.name;
  }
  j["user"] = std::to_string(e.user);
  switch (e.kind) {
    case ClusterEnvelope::Kind::room_event: {
      for (const auto& n : kEvents) {
        if (n.type == e.type) j["ev"] = n.name;
      }
      j["room"] = e.room_id;
      json to = json::array();
      for (UserId u : e.to) to.push_back(std::to_string(u));
      j["to"] = std::move(to);
      if (e.type == MsgType::peer_left) j["host"] = std::to_string(e.host);
      if (e.type == MsgType::room_joined) {
        json members = json::array();
        for (UserId u : e.members) members.push_back(std::to_string(u));
        j["members"] = std::move(members);
      }
      if (e.type == MsgType::room_closed) j["reason"] = e.reason;
      break;
    }
    case ClusterEnvelope::Kind::replace:
      j["conn"] = e.conn;
      break;
    case ClusterEnvelope::Kind::revoke:
      // Raw SHA-256 bytes: as a JSON string they are not UTF-8, and the replacement below would
      // turn them into another hash that matches no key.
      j["key_hash"] = hex_encode(e.key_hash);
      break;
    case ClusterEnvelope::Kind::close:
      j["code"] = e.code;
      j["reason"] = e.reason;
      break;
    case ClusterEnvelope::Kind::parked:
      j["code"] = e.code;
      j["reason"] = e.reason;
      j["conn"] = e.conn;
      j["session"] = e.session;
      break;
    case ClusterEnvelope::Kind::adopt: {
      j["conn"] = e.conn;
      j["session"] = e.session;
      j["next_seq"] = std::to_string(e.next_seq);
      j["client_seq"] = std::to_string(e.client_seq);
      json kept = json::array();
      for (const auto& k : e.kept) kept.push_back(std::to_string(k.seq) + " " + k.text);
      j["kept"] = std::move(kept);
      j["held"] = e.held;
      break;
    }
    case ClusterEnvelope::Kind::deliver:
      break;
  }
  // Replace, not throw, on invalid UTF-8: a reason is an administrator's free text.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ClusterEnvelope, std::string> decode_envelope(std::string_view bytes) {
  if (!bytes.starts_with("D ")) return decode_json(bytes);
  auto eol = bytes.find('\n');
  if (eol == std::string_view::npos) return std::string("a delivery without its text");
  auto to = parse_user_list(bytes.substr(2, eol - 2));
  if (!to) return std::string("a delivery with a bad recipient list");
  ClusterEnvelope e;
  e.kind = ClusterEnvelope::Kind::deliver;
  e.to = std::move(*to);
  e.text = std::string(bytes.substr(eol + 1));
  return e;
}

}  // namespace switchboard
