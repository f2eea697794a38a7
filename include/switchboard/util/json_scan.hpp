#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace switchboard::json_scan {

/// A member of an object as written: the key between its quotes, escapes left as they are,
/// the value's text, and how deep the object holding it is nested (the document's own
/// object is 1).
struct Member {
  std::string_view key;
  std::string_view value;
  std::size_t depth = 0;
};

/// The outer levels of a document, as valid() walks them: the members of every object nested
/// at most `depth` deep (3 unless set), each recorded when its value ends. So an object's
/// members come right before the member that holds it, after that member's previous sibling.
struct Outline {
  static constexpr std::size_t kDepth = 3;
  static constexpr std::size_t kCapacity = 48;
  std::size_t depth = kDepth;
  std::array<Member, kCapacity> members;
  std::size_t size = 0;
  bool complete = true;  // false when the document had more members than fit
};

/// True when `text` is exactly one JSON value (RFC 8259), surrounding whitespace allowed, with
/// arrays and objects nested no deeper than `max_depth`: the verdict of parse_json()
/// (json_depth.hpp, nlohmann), fuzzed to agree on every input. So strict where parsers differ:
/// no comments, no trailing commas, no byte order mark, no NUL, no lone UTF-16 surrogate
/// escape, only valid UTF-8, and no number beyond a double's range (1e400). But it decodes
/// nothing and builds nothing, so a 3 KB SDP full of `\r\n` escapes is checked in a fraction
/// of a parse. Fills `outline` when given one.
bool valid(std::string_view text, std::size_t max_depth, Outline* outline = nullptr);

/// The content between a string value's quotes.
std::string_view string_content(std::string_view string_value);

}  // namespace switchboard::json_scan
