// Fuzzes parse_client_message, the one place client bytes become a signaling message, and
// holds its fast path for relays to the full parser's verdicts.
// On success the message must be one a client may send, shaped as the protocol says, and its
// relayed form must parse back carrying the real sender; on failure the Error must name a
// parse-level code and serialise to a well-formed Error message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/json_depth.hpp"
#include "switchboard/util/json_scan.hpp"

namespace {

using json = nlohmann::json;
using switchboard::MsgType;
using switchboard::SignalError;

constexpr switchboard::UserId kSender = 17;
constexpr std::size_t kMaxRoomSize = 64;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "invariant broken: %s\ninput (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
  std::abort();
}

#define CHECK(cond)                 \
  do {                              \
    if (!(cond)) fail(#cond, text); \
  } while (false)

bool is_client_type(MsgType t) {
  switch (t) {
    case MsgType::create_room:
    case MsgType::join_room:
    case MsgType::sdp:
    case MsgType::ice_candidate:
    case MsgType::leave_room:
    case MsgType::ready:
      return true;
    default:
      return false;
  }
}

bool is_parse_error(SignalError e) {
  switch (e) {
    case SignalError::bad_json:
    case SignalError::bad_envelope:
    case SignalError::bad_payload:
    case SignalError::unknown_type:
    case SignalError::forbidden:
      return true;
    default:
      return false;
  }
}

/// An id as the daemon reads one: a non-negative integer. JSON's -0 is a signed 0 to
/// nlohmann; it means 0.
bool is_id(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() == 0);
}

/// JSON as the daemon reads it, worked out independently of its parse_json: nlohmann's own
/// verdict (json::accept, no DOM), less what it lets through that JSON is not (a NUL, which
/// its lexer takes for the end of input, and a leading byte order mark, which it skips),
/// nested no deeper than `max_depth` (json_too_deep is exact on a valid document).
bool readable(std::string_view text, std::size_t max_depth) {
  if (text.find('\0') != std::string_view::npos) return false;
  if (text.starts_with("\xEF\xBB\xBF")) return false;
  return json::accept(text) && !switchboard::json_too_deep(text, max_depth);
}

void check_accepted(std::string_view text, const switchboard::ClientMessage& m) {
  CHECK(is_client_type(m.type));
  // What was accepted is a JSON object with an integer msg_type naming m.type.
  CHECK(readable(text, switchboard::kMaxJsonDepth));
  json original = json::parse(text, nullptr, false);
  CHECK(!original.is_discarded() && original.is_object());
  CHECK(original.contains("msg_type") && original["msg_type"].is_number_integer());
  CHECK(original["msg_type"].get<std::int64_t>() == static_cast<int>(m.type));
  // A present `from` is the sender's own id, never someone else's.
  if (original.contains("from")) {
    CHECK(is_id(original["from"]));
    CHECK(original["from"].get<std::uint64_t>() == kSender);
  }
  if (m.type == MsgType::create_room) {
    CHECK(m.room_id.empty());
    if (m.max_members) CHECK(*m.max_members >= 1 && *m.max_members <= kMaxRoomSize);
    return;
  }
  CHECK(!m.room_id.empty() && m.room_id.size() <= 64);
  if (m.type != MsgType::sdp && m.type != MsgType::ice_candidate) {
    CHECK(!m.to.has_value());
    return;
  }
  // Relayed types: `to` and an object envelope whose payload carries the checked fields.
  CHECK(m.to.has_value());
  CHECK(original.contains("to") && is_id(original["to"]));
  CHECK(original["to"].get<std::uint64_t>() == *m.to);
  CHECK(original.contains("payload"));
  const json& payload = original.at("payload");
  CHECK(payload.is_object());
  CHECK(payload.contains("room_id") && payload["room_id"] == m.room_id);
  if (m.type == MsgType::sdp) {
    CHECK(payload.contains("sdp") && payload["sdp"].is_object());
    const json& sdp = payload["sdp"];
    CHECK(sdp.contains("type") && sdp["type"].is_string());
    auto kind = sdp["type"].get<std::string>();
    CHECK(kind == "offer" || kind == "answer" || kind == "pranswer" || kind == "rollback");
    CHECK(sdp.contains("sdp") && sdp["sdp"].is_string());
  } else {
    CHECK(payload.contains("candidate"));
    CHECK(payload["candidate"].is_object() || payload["candidate"].is_null());
  }

  // The relayed form (spliced or rewritten) parses back, carries the real sender, and is
  // the same value as what was checked, `from` aside.
  auto relayed_text = switchboard::make_relay(text, m, kSender);
  CHECK(relayed_text != nullptr);
  json relayed = json::parse(*relayed_text, nullptr, false);
  CHECK(!relayed.is_discarded() && relayed.is_object());
  CHECK(relayed["from"].is_number_unsigned() && relayed["from"].get<std::uint64_t>() == kSender);
  CHECK(relayed["msg_type"] == static_cast<int>(m.type));
  CHECK(is_id(relayed["to"]) && relayed["to"].get<std::uint64_t>() == *m.to);
  CHECK(relayed["payload"].is_object() && relayed["payload"]["room_id"] == m.room_id);
  // The sender's own numbering never reaches the target: the target's is set on the way out.
  CHECK(!relayed.contains("seq"));
  json without_from = relayed;
  without_from.erase("from");
  json original_without_from = original;
  original_without_from.erase("from");
  original_without_from.erase("seq");
  // Through text and back, as the peer sees it (a non-finite number would become null).
  CHECK(without_from == json::parse(original_without_from.dump()) ||
        without_from == original_without_from);
  // A receiving client reads the relay as a client message of its own sender: it must pass.
  auto again = switchboard::parse_client_message(*relayed_text, kSender, kMaxRoomSize);
  CHECK(again.ok());
  CHECK(again.value().type == m.type && again.value().to == m.to);
}

void check_rejected(std::string_view text, const switchboard::SignalFailure& f) {
  CHECK(is_parse_error(f.code));
  CHECK(!f.message.empty());
  bool readable = ::readable(text, switchboard::kMaxJsonDepth);
  CHECK((f.code == SignalError::bad_json) == !readable);
  // Too deep is said only of a text that opens more than 32 levels before any fault.
  if (f.message == "message nests deeper than 32 levels") {
    CHECK(switchboard::json_too_deep(text, switchboard::kMaxJsonDepth));
  }
  json original = readable ? json::parse(text, nullptr, false) : json();
  CHECK(!original.is_discarded());
  if (f.code == SignalError::bad_json || (readable && !original.is_object())) {
    CHECK(!f.msg_type.has_value());
  }
  // When msg_type could be read as an int, the Error names it.
  if (readable && original.is_object() && original.contains("msg_type") &&
      original["msg_type"].is_number_integer()) {
    // Read unsigned values as unsigned: 2^64-1 is not -1, and names no int type.
    const json& type = original["msg_type"];
    bool fits =
        type.is_number_unsigned()
            ? type.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT32_MAX)
            : type.get<std::int64_t>() >= INT32_MIN && type.get<std::int64_t>() <= INT32_MAX;
    if (fits) {
      CHECK(f.msg_type.has_value() && *f.msg_type == type.get<std::int64_t>());
    } else {
      CHECK(!f.msg_type.has_value());
    }
  }

  auto error_text = switchboard::make_error(f);
  CHECK(error_text != nullptr);
  json error = json::parse(*error_text, nullptr, false);
  CHECK(!error.is_discarded() && error.is_object());
  CHECK(error["msg_type"] == static_cast<int>(MsgType::error));
  CHECK(error["from"] == 0);
  json& p = error["payload"];
  CHECK(p.is_object());
  CHECK(p["code"] == switchboard::to_string(f.code));
  CHECK(p["message"].is_string());
  if (f.msg_type) {
    CHECK(p["msg_type"] == *f.msg_type);
  } else {
    CHECK(p["msg_type"].is_null());
  }
}

/// The fast path for relays (relay_scan) must never change a verdict: whatever
/// parse_client_message says, the full parser says too, field for field.
void check_same_as_full_parse(
    std::string_view text,
    const switchboard::Result<switchboard::ClientMessage, switchboard::SignalFailure>& parsed) {
  auto full = switchboard::parse_client_message_in_full(text, kSender, kMaxRoomSize);
  CHECK(parsed.ok() == full.ok());
  if (parsed.ok()) {
    const auto& a = parsed.value();
    const auto& b = full.value();
    CHECK(a.type == b.type && a.to == b.to && a.room_id == b.room_id &&
          a.max_members == b.max_members && a.seq == b.seq);
    // And the target gets the same message either way (one may splice, the other cut anew).
    if (a.type == MsgType::sdp || a.type == MsgType::ice_candidate) {
      auto ra = json::parse(*switchboard::make_relay(text, a, kSender), nullptr, false);
      auto rb = json::parse(*switchboard::make_relay(text, b, kSender), nullptr, false);
      CHECK(!ra.is_discarded() && ra == rb);
    }
  } else {
    const auto& a = parsed.error();
    const auto& b = full.error();
    CHECK(a.code == b.code && a.message == b.message && a.msg_type == b.msg_type);
  }
  // The JSON check under the fast path gives nlohmann's verdict, at any depth bound: it
  // accepts nothing the full parse refuses, and refuses nothing it accepts.
  for (std::size_t depth : {std::size_t{2}, std::size_t{16}, switchboard::kMaxJsonDepth}) {
    bool valid = switchboard::json_scan::valid(text, depth);
    CHECK(valid == readable(text, depth));
    CHECK(valid == switchboard::parse_json(text, depth).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = switchboard::parse_client_message(text, kSender, kMaxRoomSize);
  if (parsed) {
    check_accepted(text, parsed.value());
  } else {
    check_rejected(text, parsed.error());
  }
  check_same_as_full_parse(text, parsed);
  return 0;
}
