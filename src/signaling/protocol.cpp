#include "switchboard/signaling/protocol.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "switchboard/util/json_depth.hpp"

namespace switchboard {

using json = nlohmann::json;

const char* to_string(SignalError e) {
  switch (e) {
    case SignalError::bad_json:
      return "bad_json";
    case SignalError::bad_envelope:
      return "bad_envelope";
    case SignalError::bad_payload:
      return "bad_payload";
    case SignalError::unknown_type:
      return "unknown_type";
    case SignalError::forbidden:
      return "forbidden";
    case SignalError::room_not_found:
      return "room_not_found";
    case SignalError::room_full:
      return "room_full";
    case SignalError::already_in_room:
      return "already_in_room";
    case SignalError::not_in_room:
      return "not_in_room";
    case SignalError::peer_not_in_room:
      return "peer_not_in_room";
    case SignalError::too_many_rooms:
      return "too_many_rooms";
    case SignalError::rate_limited:
      return "rate_limited";
  }
  return "unknown";
}

const char* describe(SignalError e) {
  switch (e) {
    case SignalError::room_not_found:
      return "no such room";
    case SignalError::room_full:
      return "the room is full";
    case SignalError::already_in_room:
      return "you are already in this room";
    case SignalError::not_in_room:
      return "you are not in this room";
    case SignalError::peer_not_in_room:
      return "the target is not connected in this room";
    case SignalError::too_many_rooms:
      return "you are in too many rooms";
    case SignalError::rate_limited:
      return "too many messages; slow down";
    default:
      return to_string(e);
  }
}

namespace {

/// Room ids we hand out are 22 base64url characters; anything much longer is not ours.
constexpr std::size_t kMaxRoomIdLength = 64;

SignalFailure fail(SignalError code, std::string message, std::optional<int> type) {
  return SignalFailure{code, std::move(message), type};
}

/// Reads payload.room_id, which every client type but CreateRoom carries.
std::optional<SignalFailure> read_room_id(const json& payload, int type, std::string& out) {
  auto it = payload.find("room_id");
  if (it == payload.end() || !it->is_string()) {
    return fail(SignalError::bad_payload, "payload.room_id must be a string", type);
  }
  const auto& id = it->get_ref<const std::string&>();
  if (id.empty() || id.size() > kMaxRoomIdLength) {
    return fail(SignalError::bad_payload, "payload.room_id has an impossible length", type);
  }
  out = id;
  return std::nullopt;
}

bool is_sdp_type(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s == "offer" || s == "answer" || s == "pranswer" || s == "rollback";
}

std::optional<SignalFailure> check_relay_payload(MsgType type, const json& payload) {
  int t = static_cast<int>(type);
  if (type == MsgType::sdp) {
    auto it = payload.find("sdp");
    if (it == payload.end() || !it->is_object()) {
      return fail(SignalError::bad_payload, "payload.sdp must be an object", t);
    }
    auto kind = it->find("type");
    if (kind == it->end() || !is_sdp_type(*kind)) {
      return fail(SignalError::bad_payload,
                  "payload.sdp.type must be offer, answer, pranswer or rollback", t);
    }
    auto text = it->find("sdp");
    if (text == it->end() || !text->is_string()) {
      return fail(SignalError::bad_payload, "payload.sdp.sdp must be a string", t);
    }
    return std::nullopt;
  }
  auto it = payload.find("candidate");
  if (it == payload.end() || !(it->is_object() || it->is_null())) {
    return fail(SignalError::bad_payload, "payload.candidate must be an object or null", t);
  }
  return std::nullopt;
}

/// The same JSON value as nlohmann's parser would have produced from the text (non-negative
/// integers unsigned, as nlohmann parses them).
json to_nlohmann(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return nullptr;
    case boost::json::kind::bool_:
      return v.get_bool();
    case boost::json::kind::int64: {
      auto i = v.get_int64();
      return i >= 0 ? json(static_cast<std::uint64_t>(i)) : json(i);
    }
    case boost::json::kind::uint64:
      return v.get_uint64();
    case boost::json::kind::double_:
      return v.get_double();
    case boost::json::kind::string:
      return std::string(v.get_string());
    case boost::json::kind::array: {
      json out = json::array();
      for (const auto& e : v.get_array()) out.push_back(to_nlohmann(e));
      return out;
    }
    case boost::json::kind::object: {
      json out = json::object();
      for (const auto& member : v.get_object()) {
        out[std::string(member.key())] = to_nlohmann(member.value());
      }
      return out;
    }
  }
  return nullptr;
}

/// Members of the top-level object in `text` as written, duplicates included: a comma scan
/// outside strings at depth 1. Compared with the parsed object's size it reveals duplicate
/// keys, which different JSON parsers resolve differently.
std::size_t written_members(std::string_view text) {
  std::size_t depth = 0;
  std::size_t commas = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      ++commas;
    }
  }
  return commas + 1;
}

SharedText share(const json& j) {
  return std::make_shared<const std::string>(j.dump());
}

json server_envelope(MsgType type, json payload) {
  return json{{"msg_type", static_cast<int>(type)}, {"from", 0}, {"payload", std::move(payload)}};
}

}  // namespace

Result<ClientMessage, SignalFailure> parse_client_message(std::string_view text, UserId sender,
                                                          std::size_t max_room_size) {
  // Boost.JSON parses several times faster than nlohmann's lexer (it matters: this runs for
  // every message, and an SDP is kilobytes of string); the checks below then work on the
  // nlohmann value built from it, which costs little more than copying the strings.
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(text, ec, {}, options);
  if (ec == boost::json::error::too_deep) {
    return fail(SignalError::bad_json, "message nests deeper than 32 levels", std::nullopt);
  }
  if (ec) return fail(SignalError::bad_json, "not valid JSON", std::nullopt);
  json envelope = to_nlohmann(parsed);
  if (!envelope.is_object()) {
    return fail(SignalError::bad_envelope, "message must be a JSON object", std::nullopt);
  }
  auto type_it = envelope.find("msg_type");
  if (type_it == envelope.end() || !type_it->is_number_integer()) {
    return fail(SignalError::bad_envelope, "msg_type must be an integer", std::nullopt);
  }
  // The Error names the offending type only when it fits an int; a larger one gets null
  // rather than a wrapped number the client never sent.
  std::optional<int> t;
  if (type_it->is_number_unsigned()) {
    if (type_it->get<std::uint64_t>() <= INT32_MAX) t = type_it->get<int>();
  } else if (auto v = type_it->get<std::int64_t>(); v >= INT32_MIN && v <= INT32_MAX) {
    t = static_cast<int>(v);
  }
  for (const char* field : {"to", "from"}) {
    auto it = envelope.find(field);
    if (it != envelope.end() && !it->is_number_unsigned()) {
      return fail(SignalError::bad_envelope, std::string(field) + " must be an unsigned integer",
                  t);
    }
  }
  ClientMessage m;
  switch (t.value_or(-1)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 10:
      m.type = static_cast<MsgType>(*t);
      break;
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 11:
    case 12:
      return fail(SignalError::unknown_type,
                  "msg_type " + std::to_string(*t) + " is sent by the server only", t);
    default:
      return fail(SignalError::unknown_type, "unknown msg_type " + type_it->dump(), t);
  }
  if (auto from = envelope.find("from"); from != envelope.end() && from->get<UserId>() != sender) {
    return fail(SignalError::forbidden, "from must be your own user id", t);
  }
  static const json empty_object = json::object();
  auto payload_it = envelope.find("payload");
  const json& payload = payload_it == envelope.end() ? empty_object : *payload_it;
  if (!payload.is_object()) return fail(SignalError::bad_payload, "payload must be an object", t);

  switch (m.type) {
    case MsgType::create_room: {
      auto max = payload.find("max_members");
      if (max != payload.end()) {
        if (!max->is_number_unsigned() || max->get<std::uint64_t>() < 1 ||
            max->get<std::uint64_t>() > max_room_size) {
          return fail(
              SignalError::bad_payload,
              "payload.max_members must be an integer from 1 to " + std::to_string(max_room_size),
              t);
        }
        m.max_members = max->get<std::size_t>();
      }
      return m;
    }
    case MsgType::sdp:
    case MsgType::ice_candidate: {
      auto to = envelope.find("to");
      if (to == envelope.end()) {
        return fail(SignalError::bad_envelope, "to is required for SDP and ICECandidate", t);
      }
      if (auto bad = read_room_id(payload, *t, m.room_id)) return *bad;
      if (auto bad = check_relay_payload(m.type, payload)) return *bad;
      m.to = to->get<UserId>();
      m.envelope = std::move(envelope);
      return m;
    }
    default:
      if (auto bad = read_room_id(payload, *t, m.room_id)) return *bad;
      return m;
  }
}

SharedText make_welcome(UserId user, const std::string& username, const json& ice) {
  return share(server_envelope(MsgType::welcome,
                               {{"user_id", user}, {"username", username}, {"ice_servers", ice}}));
}

SharedText make_room_created(const std::string& room_id, UserId host) {
  return share(server_envelope(MsgType::room_created, {{"room_id", room_id}, {"host", host}}));
}

SharedText make_room_joined(const std::string& room_id, UserId host,
                            const std::vector<UserId>& members) {
  return share(server_envelope(MsgType::room_joined,
                               {{"room_id", room_id}, {"host", host}, {"members", members}}));
}

SharedText make_peer_event(MsgType type, const std::string& room_id, UserId user) {
  return share(server_envelope(type, {{"room_id", room_id}, {"user_id", user}}));
}

SharedText make_peer_left(const std::string& room_id, UserId user, UserId host) {
  return share(server_envelope(MsgType::peer_left,
                               {{"room_id", room_id}, {"user_id", user}, {"host", host}}));
}

SharedText make_error(const SignalFailure& f) {
  json type = f.msg_type ? json(*f.msg_type) : json(nullptr);
  return share(server_envelope(
      MsgType::error, {{"code", to_string(f.code)}, {"message", f.message}, {"msg_type", type}}));
}

SharedText make_relay(std::string_view text, const ClientMessage& m, UserId sender) {
  auto open = text.find_first_not_of(" \t\r\n");
  auto first_member = text.find_first_not_of(" \t\r\n", open + 1);
  // Splice only what every parser reads the same way: no `from` of its own, no duplicate
  // keys (the target must see exactly what we checked).
  bool splice = !m.envelope.contains("from") && open != std::string_view::npos &&
                text[open] == '{' && first_member != std::string_view::npos &&
                text[first_member] != '}' && written_members(text) == m.envelope.size();
  if (!splice) return make_relay(m.envelope, sender);
  std::string out;
  out.reserve(text.size() + 32);
  out += "{\"from\":";
  out += std::to_string(sender);
  out += ',';
  out.append(text.substr(open + 1));
  return std::make_shared<const std::string>(std::move(out));
}

SharedText make_relay(json envelope, UserId sender) {
  envelope["from"] = sender;
  return share(envelope);
}

}  // namespace switchboard
