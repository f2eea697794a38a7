// Fuzzes parse_client_message, the one place client bytes become a signaling message, and
// holds its fast path for relays to the full parser's verdicts.
// On success the message must be one a client may send, shaped as the protocol says, and its
// relayed form must parse back carrying the real sender; on failure the Error must name a
// parse-level code and serialise to a well-formed Error message.
#include <boost/json/parse.hpp>
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

/// An id as the daemon reads one: a non-negative integer. JSON's -0 is the integer 0 to
/// Boost.JSON, and a signed zero to nlohmann; both mean 0.
bool is_id(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() == 0);
}

void check_accepted(std::string_view text, const switchboard::ClientMessage& m) {
  CHECK(is_client_type(m.type));
  // What was accepted is a JSON object with an integer msg_type naming m.type.
  json original = json::parse(text, nullptr, false);
  // nlohmann, used here as the second opinion, refuses numbers beyond a double's range (1e400)
  // that JSON's grammar allows and the daemon's parser accepts: nothing to compare then.
  if (original.is_discarded()) return;
  CHECK(original.is_object());
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
  json without_from = relayed;
  without_from.erase("from");
  json original_without_from = original;
  original_without_from.erase("from");
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
  // Readable means what the daemon's parser (Boost.JSON, strict: a NUL ends nothing) makes of
  // it, with the same depth bound. nlohmann, used below to inspect the value, stops at a NUL
  // byte; where the two disagree there is nothing more to compare.
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = switchboard::kMaxJsonDepth;
  (void)boost::json::parse(text, ec, {}, options);
  bool readable = !ec;
  CHECK((f.code == SignalError::bad_json) == !readable);
  json original = readable ? json::parse(text, nullptr, false) : json();
  if (original.is_discarded()) return;
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

/// Whether `text` holds an exponent of ten digits or more, leading zeros aside (a rough scan:
/// it may also find one inside a string, which only makes the check weaker).
bool has_long_exponent(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != 'e' && text[i] != 'E') continue;
    std::size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    while (j + 1 < text.size() && text[j] == '0') ++j;
    std::size_t digits = 0;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j, ++digits;
    if (digits >= 10) return true;
  }
  return false;
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
          a.max_members == b.max_members && a.rewritten == b.rewritten);
  } else {
    const auto& a = parsed.error();
    const auto& b = full.error();
    CHECK(a.code == b.code && a.message == b.message && a.msg_type == b.msg_type);
  }
  // The JSON check under the fast path accepts nothing Boost.JSON refuses, at any depth
  // bound; and refuses nothing it accepts but a number with a 10-digit exponent.
  for (std::size_t depth : {std::size_t{2}, std::size_t{16}, switchboard::kMaxJsonDepth}) {
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = depth;
    (void)boost::json::parse(text, ec, {}, options);
    bool valid = switchboard::json_scan::valid(text, depth);
    if (valid) CHECK(!ec);
    if (!ec && !valid) CHECK(has_long_exponent(text));
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
