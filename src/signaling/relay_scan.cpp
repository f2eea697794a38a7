#include "switchboard/signaling/relay_scan.hpp"

#include <array>

#include "switchboard/util/encoding.hpp"
#include "switchboard/util/json_scan.hpp"

namespace switchboard {

namespace {

using json_scan::Member;
using json_scan::Outline;

/// Relays nest 3 or 4 levels; anything deeper is left to the full parser and its own bound.
constexpr std::size_t kScanDepth = 16;

bool is_string(std::string_view value) {
  return !value.empty() && value.front() == '"';
}

bool is_object(std::string_view value) {
  return !value.empty() && value.front() == '{';
}

/// Content of a string value written without escapes; nullopt for anything else.
std::optional<std::string_view> plain_string(std::string_view value) {
  if (!is_string(value)) return std::nullopt;
  auto content = json_scan::string_content(value);
  if (content.find('\\') != std::string_view::npos) return std::nullopt;
  return content;
}

/// Finds the values of `names` among the members of one object: the outline's entries of
/// `depth` right before entry `holder` (the member whose value the object is; the outline's
/// size for the document's own object). False when the full parser must decide: an escaped
/// key (it could spell one of the names), one of the names twice (parsers differ on which
/// one counts) or, with `all_unique`, any key twice (the envelope: the relay splices `from`
/// into the text as written, so the target must read exactly what was checked).
template <std::size_t N>
bool find_members(const Outline& outline, std::size_t holder, std::size_t depth,
                  const std::array<std::string_view, N>& names,
                  std::array<std::string_view, N>& values, bool all_unique = false) {
  for (std::size_t i = holder; i-- > 0 && outline.members[i].depth >= depth;) {
    const Member& member = outline.members[i];
    if (member.depth != depth) continue;  // inside one of this object's values
    if (member.key.find('\\') != std::string_view::npos) return false;
    for (std::size_t j = i + 1; all_unique && j < holder; ++j) {
      if (outline.members[j].depth == depth && outline.members[j].key == member.key) return false;
    }
    for (std::size_t k = 0; k < N; ++k) {
      if (member.key != names[k]) continue;
      if (!values[k].empty()) return false;
      values[k] = member.value;
    }
  }
  return true;
}

/// The index of the outline entry whose value is `value` (found among the members just read).
std::size_t entry_of(const Outline& outline, std::string_view value) {
  std::size_t i = 0;
  while (outline.members[i].value.data() != value.data()) ++i;
  return i;
}

bool sdp_payload_ok(const Outline& outline, std::string_view sdp) {
  if (!is_object(sdp)) return false;
  std::array<std::string_view, 2> values{};  // type, sdp
  if (!find_members(outline, entry_of(outline, sdp), 3,
                    std::array<std::string_view, 2>{"type", "sdp"}, values)) {
    return false;
  }
  auto type = plain_string(values[0]);
  return type && is_sdp_type(*type) && is_string(values[1]);
}

/// The bytes of `member` in `text` with one comma beside it (the one after it, or before it
/// when it is the last): cutting [begin, end) leaves the other members as written.
void cut_member(std::string_view text, const Member& member, std::size_t& begin, std::size_t& end) {
  begin = static_cast<std::size_t>(member.key.data() - 1 - text.data());  // its opening quote
  end = static_cast<std::size_t>(member.value.data() + member.value.size() - text.data());
  auto next = text.find_first_not_of(" \t\r\n", end);
  if (text[next] == ',') {
    end = next + 1;
  } else {
    begin = text.find_last_of(',', begin);  // the last member: a comma precedes it
  }
}

bool candidate_ok(std::string_view candidate) {
  return is_object(candidate) || candidate == "null";
}

}  // namespace

std::optional<ClientMessage> scan_relay(std::string_view text) {
  // Scratch space of the thread: an outline costs 2 KB to set up, a small message much less.
  thread_local Outline outline;
  if (!json_scan::valid(text, kScanDepth, &outline) || !outline.complete) return std::nullopt;
  auto first = text.find_first_not_of(" \t\r\n");
  if (text[first] != '{') return std::nullopt;

  std::array<std::string_view, 5> top{};  // msg_type, to, payload, from, seq
  if (!find_members(outline, outline.size, 1,
                    std::array<std::string_view, 5>{"msg_type", "to", "payload", "from", "seq"},
                    top, true)) {
    return std::nullopt;
  }
  // A `from` of the sender's own makes the message a rewrite: the full parser does that.
  if (!top[3].empty()) return std::nullopt;
  ClientMessage m;
  if (!top[4].empty()) {
    m.seq = parse_decimal(top[4]);
    if (!m.seq) return std::nullopt;  // the full parser words the error
    cut_member(text, outline.members[entry_of(outline, top[4])], m.seq_begin, m.seq_end);
  }
  if (top[0] == "2") {
    m.type = MsgType::sdp;
  } else if (top[0] == "3") {
    m.type = MsgType::ice_candidate;
  } else {
    return std::nullopt;
  }
  m.to = parse_decimal(top[1]);
  if (!m.to || !is_object(top[2])) return std::nullopt;

  std::array<std::string_view, 3> payload{};  // room_id, sdp, candidate
  if (!find_members(outline, entry_of(outline, top[2]), 2,
                    std::array<std::string_view, 3>{"room_id", "sdp", "candidate"}, payload)) {
    return std::nullopt;
  }
  auto room_id = plain_string(payload[0]);
  if (!room_id || room_id->empty() || room_id->size() > kMaxRoomIdLength) return std::nullopt;
  bool body_ok =
      m.type == MsgType::sdp ? sdp_payload_ok(outline, payload[1]) : candidate_ok(payload[2]);
  if (!body_ok) return std::nullopt;
  m.room_id.assign(*room_id);
  return m;
}

}  // namespace switchboard
