#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "switchboard/util/result.hpp"

namespace switchboard {

/// Deepest array/object nesting we parse. Real signaling payloads nest 3 or 4 levels; the
/// bound keeps a hostile `[[[[...` from costing recursion in serialisation.
inline constexpr std::size_t kMaxJsonDepth = 32;

/// True when `text` nests arrays/objects deeper than `max_depth`. A byte scan that skips
/// string contents; it does not validate the JSON (the parser does that afterwards).
bool json_too_deep(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

/// Why parse_json() read no document.
enum class JsonError {
  not_json,  // not one RFC 8259 value, or a number beyond a double's range (1e400)
  too_deep,  // nested deeper than the bound before any other fault
};

/// `text` as nlohmann's DOM, read strictly: one value, whitespace around it, nothing else.
/// Three things nlohmann would let through are refused: a NUL byte (its lexer takes one for
/// the end of input, so `{}\0garbage` would pass), a leading byte order mark (it skips one),
/// and nesting deeper than `max_depth` (it has no bound of its own), which is refused as the
/// parser reaches it, before the DOM holds it. Never throws.
Result<nlohmann::json, JsonError> parse_json(std::string_view text,
                                             std::size_t max_depth = kMaxJsonDepth);

}  // namespace switchboard
