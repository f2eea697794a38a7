#pragma once

#include <cstddef>

namespace switchboard {

/// The length of the well-formed UTF-8 sequence at `p` (1 to 4 bytes, RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or 0 when there is none before `end`.
inline std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  unsigned char c = *p;
  if (c < 0x80) return 1;
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the byte after the lead
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // no overlong three-byte forms
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;  // no overlong four-byte forms
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // a continuation byte, an overlong two-byte lead, or 0xF5..0xFF
  }
  if (static_cast<std::size_t>(end - p) < need + 1) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i <= need; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return need + 1;
}

}  // namespace switchboard
