#include "switchboard/signaling/protocol.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "switchboard/signaling/relay_scan.hpp"
#include "switchboard/util/json_depth.hpp"
#include "switchboard/util/json_scan.hpp"
#include "switchboard/util/recycled_text.hpp"

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
    case SignalError::unavailable:
      return "unavailable";
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

bool is_sdp_type(std::string_view type) {
  return type == "offer" || type == "answer" || type == "pranswer" || type == "rollback";
}

namespace {

SignalFailure fail(SignalError code, std::string message, std::optional<int> type) {
  return SignalFailure{code, std::move(message), type};
}

/// The value of `key` in `object`, or null when absent.
const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

/// Non-negative integers, as a client writes ids and counts. (nlohmann reads those as
/// unsigned, and `-0` as a signed 0.)
std::optional<std::uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  return std::nullopt;
}

/// Reads payload.room_id, which every client type but CreateRoom carries.
std::optional<SignalFailure> read_room_id(const json& payload, int type, std::string& out) {
  const auto* id = member(payload, "room_id");
  if (!id || !id->is_string()) {
    return fail(SignalError::bad_payload, "payload.room_id must be a string", type);
  }
  const auto& text = id->get_ref<const std::string&>();
  if (text.empty() || text.size() > kMaxRoomIdLength) {
    return fail(SignalError::bad_payload, "payload.room_id has an impossible length", type);
  }
  out = text;
  return std::nullopt;
}

bool is_sdp_type_value(const json* v) {
  return v && v->is_string() && is_sdp_type(v->get_ref<const std::string&>());
}

std::optional<SignalFailure> check_relay_payload(MsgType type, const json& payload) {
  int t = static_cast<int>(type);
  if (type == MsgType::sdp) {
    const auto* sdp = member(payload, "sdp");
    if (!sdp || !sdp->is_object()) {
      return fail(SignalError::bad_payload, "payload.sdp must be an object", t);
    }
    if (!is_sdp_type_value(member(*sdp, "type"))) {
      return fail(SignalError::bad_payload,
                  "payload.sdp.type must be offer, answer, pranswer or rollback", t);
    }
    const auto* text = member(*sdp, "sdp");
    if (!text || !text->is_string()) {
      return fail(SignalError::bad_payload, "payload.sdp.sdp must be a string", t);
    }
    return std::nullopt;
  }
  const auto* c = member(payload, "candidate");
  if (!c || !(c->is_object() || c->is_null())) {
    return fail(SignalError::bad_payload, "payload.candidate must be an object or null", t);
  }
  return std::nullopt;
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
      // Strings are most of a signaling message (an SDP): jump to the next quote, which
      // ends the string unless an odd number of backslashes escapes it.
      const void* quote = std::memchr(text.data() + i, '"', text.size() - i);
      if (!quote) break;
      i = static_cast<std::size_t>(static_cast<const char*>(quote) - text.data());
      std::size_t backslashes = 0;
      while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) in_string = false;
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

/// A key as the parser reads it, its escapes decoded ("fr\u006fm" is `from`). `raw` is a
/// key's text between its quotes, from a document that parsed.
std::string decoded_key(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  std::string quoted;
  quoted.reserve(raw.size() + 2);
  quoted.append(1, '"').append(raw).append(1, '"');
  auto key = parse_json(quoted);
  return key && key.value().is_string() ? key.value().get<std::string>() : std::string(raw);
}

/// `text`, an envelope the parser accepted, with `from` set to `sender`, rewritten by cutting:
/// its members as written, less any `from` and all but the last of a repeated key (the last
/// is the one the parser kept and the checks read). Every value keeps the sender's bytes;
/// re-serialising would not (a long decimal becomes the nearest double, printed shortest, and
/// nlohmann sorts an object's keys). Nullopt when the envelope has more members than an
/// outline holds.
std::optional<std::string> cut_with_from(std::string_view text, UserId sender) {
  json_scan::Outline outline;
  outline.depth = 1;
  if (!json_scan::valid(text, kMaxJsonDepth, &outline) || !outline.complete) return std::nullopt;
  std::vector<std::string> keys;
  keys.reserve(outline.size);
  for (std::size_t i = 0; i < outline.size; ++i) {
    keys.push_back(decoded_key(outline.members[i].key));
  }
  std::string out = "{\"from\":" + std::to_string(sender);
  for (std::size_t i = 0; i < outline.size; ++i) {
    if (keys[i] == "from" || keys[i] == "seq") continue;  // the target's own are set
    if (std::find(keys.begin() + static_cast<std::ptrdiff_t>(i) + 1, keys.end(), keys[i]) !=
        keys.end()) {
      continue;  // a later one counts
    }
    const auto& member = outline.members[i];
    const char* start = member.key.data() - 1;  // the key's opening quote
    const char* end = member.value.data() + member.value.size();
    out.append(1, ',').append(start, static_cast<std::size_t>(end - start));
  }
  out += '}';
  return out;
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
  if (auto relay = scan_relay(text)) return std::move(*relay);
  return parse_client_message_in_full(text, sender, max_room_size);
}

Result<ClientMessage, SignalFailure> parse_client_message_in_full(std::string_view text,
                                                                  UserId sender,
                                                                  std::size_t max_room_size) {
  // nlohmann's DOM, built only when the text is JSON nested no deeper than the bound; the
  // checks read it in place. No exceptions on this path: a fault is a value.
  auto document = parse_json(text, kMaxJsonDepth);
  if (!document) {
    return fail(SignalError::bad_json,
                document.error() == JsonError::too_deep ? "message nests deeper than 32 levels"
                                                        : "not valid JSON",
                std::nullopt);
  }
  json& envelope = document.value();
  if (!envelope.is_object()) {
    return fail(SignalError::bad_envelope, "message must be a JSON object", std::nullopt);
  }
  const auto* type_value = member(envelope, "msg_type");
  if (!type_value || !type_value->is_number_integer()) {
    return fail(SignalError::bad_envelope, "msg_type must be an integer", std::nullopt);
  }
  // The Error names the offending type only when it fits an int; a larger one gets null
  // rather than a wrapped number the client never sent.
  std::optional<int> t;
  std::string type_text;
  if (type_value->is_number_unsigned()) {
    auto v = type_value->get<std::uint64_t>();
    if (v <= static_cast<std::uint64_t>(INT32_MAX)) t = static_cast<int>(v);
    type_text = std::to_string(v);
  } else {
    auto v = type_value->get<std::int64_t>();
    if (v >= INT32_MIN && v <= INT32_MAX) t = static_cast<int>(v);
    type_text = std::to_string(v);
  }
  std::optional<std::uint64_t> to;
  std::optional<std::uint64_t> from;
  std::optional<std::uint64_t> seq;
  for (auto [field, out] :
       {std::pair{"to", &to}, std::pair{"from", &from}, std::pair{"seq", &seq}}) {
    if (const auto* v = member(envelope, field)) {
      *out = as_unsigned(*v);
      if (!*out) {
        return fail(SignalError::bad_envelope, std::string(field) + " must be an unsigned integer",
                    t);
      }
    }
  }
  ClientMessage m;
  m.seq = seq;
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
    case 13:
      return fail(SignalError::unknown_type,
                  "msg_type " + std::to_string(*t) + " is sent by the server only", t);
    default:
      return fail(SignalError::unknown_type, "unknown msg_type " + type_text, t);
  }
  if (from && *from != sender) {
    return fail(SignalError::forbidden, "from must be your own user id", t);
  }
  static const json empty_object = json::object();
  const auto* payload = member(envelope, "payload");
  if (!payload) payload = &empty_object;
  if (!payload->is_object()) return fail(SignalError::bad_payload, "payload must be an object", t);

  switch (m.type) {
    case MsgType::create_room: {
      if (const auto* max = member(*payload, "max_members")) {
        auto n = as_unsigned(*max);
        if (!n || *n < 1 || *n > max_room_size) {
          return fail(
              SignalError::bad_payload,
              "payload.max_members must be an integer from 1 to " + std::to_string(max_room_size),
              t);
        }
        m.max_members = static_cast<std::size_t>(*n);
      }
      return m;
    }
    case MsgType::sdp:
    case MsgType::ice_candidate: {
      if (!to) return fail(SignalError::bad_envelope, "to is required for SDP and ICECandidate", t);
      if (auto bad = read_room_id(*payload, *t, m.room_id)) return *bad;
      if (auto bad = check_relay_payload(m.type, *payload)) return *bad;
      m.to = *to;
      // The relay splices `from` in front of the sender's bytes, unless the sender wrote a
      // `from` of its own or a key twice (nlohmann keeps the last of a repeated key, and the
      // target must see what was checked). Then the message is cut anew from its members.
      if (from || seq || written_members(text) != envelope.size()) {
        if (auto cut = cut_with_from(text, sender)) {
          m.rewritten = std::move(*cut);
        } else {
          envelope.erase("seq");
          envelope["from"] = sender;
          m.rewritten = envelope.dump();
        }
      }
      return m;
    }
    default:
      if (auto bad = read_room_id(*payload, *t, m.room_id)) return *bad;
      return m;
  }
}

SharedText make_welcome(UserId user, const std::string& username, const json& ice,
                        const WelcomeSession& session) {
  json payload = {{"user_id", user},
                  {"username", username},
                  {"ice_servers", ice},
                  {"session", session.id},
                  {"resume_window", session.resume_window},
                  {"resumed", session.resumed}};
  if (session.resumed) {
    payload["ack"] = session.ack;
    json rooms = json::array();
    for (const auto& r : session.rooms) {
      rooms.push_back({{"room_id", r.room_id}, {"host", r.host}, {"members", r.members}});
    }
    payload["rooms"] = std::move(rooms);
  }
  return share(server_envelope(MsgType::welcome, std::move(payload)));
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

SharedText make_room_closed(const std::string& room_id, std::string_view reason) {
  return share(server_envelope(MsgType::room_closed, {{"room_id", room_id}, {"reason", reason}}));
}

SharedText make_relay(std::string_view text, const ClientMessage& m, UserId sender) {
  if (!m.rewritten.empty()) return std::make_shared<const std::string>(m.rewritten);
  auto open = text.find('{');        // parse_client_message saw an object: only whitespace before
  auto out = recycled_text::take();  // the hot path's one large allocation, reused
  out->reserve(text.size() + 32);
  *out += "{\"from\":";
  *out += std::to_string(sender);
  *out += ',';
  if (m.seq_end > m.seq_begin) {
    // The sender's `seq` (and a comma beside it) is cut out: the target numbers its own.
    out->append(text.substr(open + 1, m.seq_begin - open - 1));
    out->append(text.substr(m.seq_end));
  } else {
    out->append(text.substr(open + 1));
  }
  return recycled_text::share(std::move(out));
}

}  // namespace switchboard
