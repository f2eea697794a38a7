#pragma once

#include <cstddef>
#include <string_view>

namespace switchboard {

/// Deepest array/object nesting we parse. Real signaling payloads nest 3 or 4 levels; the
/// bound keeps a hostile `[[[[...` from costing recursion in serialisation.
inline constexpr std::size_t kMaxJsonDepth = 32;

/// True when `text` nests arrays/objects deeper than `max_depth`. A byte scan that skips
/// string contents; it does not validate the JSON (the parser does that afterwards).
bool json_too_deep(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

}  // namespace switchboard
