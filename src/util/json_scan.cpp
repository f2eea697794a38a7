#include "switchboard/util/json_scan.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <locale.h>
#include <string>

#include "switchboard/util/utf8.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace switchboard::json_scan {

namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/// Whether the JSON number `number` is finite as a double, read as nlohmann reads numbers
/// (strtod), in the "C" locale whatever the process's: nlohmann adapts to the locale's
/// decimal point, so its verdict does not depend on it either.
bool finite(std::string_view number) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  std::string copy(number);  // strtod reads up to a NUL
  return std::isfinite(strtod_l(copy.c_str(), nullptr, c_locale));
}

/// The escapes that stand for one character, by the byte after the backslash.
constexpr std::array<bool, 256> kShortEscape = [] {
  std::array<bool, 256> table{};
  for (unsigned char c : std::string_view("\"\\/bfnrt")) table[c] = true;
  return table;
}();

bool plain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if defined(__SSE2__)
/// Past the 16-byte blocks at `p` that hold no quote, control character or non-ASCII byte, and
/// whose backslashes each start an escape of one character. An SDP has an escaped `\r\n` every
/// few dozen bytes: checking every backslash of a block at once, rather than stopping at each,
/// saves a mispredicted branch per escape. Returns where the block that needs a closer look
/// starts, or where fewer than 17 bytes are left (the last byte's escape may be the 17th).
const unsigned char* skip_plain_blocks(const unsigned char* p, const unsigned char* end) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 17) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare: below 0x20 are the control characters and, as negative bytes,
    // everything from 0x80 up.
    auto hard = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmplt_epi8(v, space))));
    auto escapes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)));
    if ((hard | escapes) == 0) {
      p += 16;
      continue;
    }
    // Two backslashes in a row need their parity counted: the caller does that.
    if (escapes & (escapes << 1)) return p;
    unsigned escaped = escapes << 1;  // bit 16: the byte after the block
    __m128i short_escape = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('b')))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('f')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('n'))),
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('r')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('t')))));
    auto allowed = static_cast<unsigned>(_mm_movemask_epi8(short_escape));
    if (escaped & 0x10000) allowed |= kShortEscape[p[16]] ? 0x10000u : 0u;
    // A \u escape, or a bad one: the caller.
    if (escaped & ~allowed) return p;
    hard &= ~escaped;  // an escaped quote ends nothing
    if (hard != 0) return p + __builtin_ctz(hard);
    p += (escaped & 0x10000) ? 17 : 16;
  }
  return p;
}
#endif

/// Past the bytes at `p` that a string may hold without a second look: printable ASCII
/// other than the quote and the backslash, and escapes of one character. Stops at a quote, a
/// control character, a non-ASCII byte, or a backslash that starts anything else (a \u
/// escape, or an error), for the caller.
const unsigned char* skip_plain(const unsigned char* p, const unsigned char* end) {
  for (;;) {
#if defined(__SSE2__)
    p = skip_plain_blocks(p, end);
#endif
    while (p != end && plain(*p)) ++p;
    if (end - p < 2 || *p != '\\' || !kShortEscape[p[1]]) return p;
    p += 2;
  }
}

int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The recursive-descent check behind valid(). Each function starts at its value's first byte
/// and leaves p_ just past it, or returns false.
class Validator {
 public:
  Validator(std::string_view text, std::size_t max_depth, Outline* outline)
      : p_(reinterpret_cast<const unsigned char*>(text.data())),
        end_(p_ + text.size()),
        max_depth_(max_depth),
        outline_(outline) {}

  bool document() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return p_ == end_;
  }

 private:
  bool value(std::size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool object(std::size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;
    skip_space();
    if (at('}')) return ++p_, true;
    for (;;) {
      const unsigned char* key = p_;
      if (!at('"') || !string()) return false;
      const unsigned char* key_end = p_;
      skip_space();
      if (!at(':')) return false;
      ++p_;
      skip_space();
      const unsigned char* value_start = p_;
      if (!value(depth)) return false;
      if (outline_ && depth <= outline_->depth) record(depth, key, key_end, value_start);
      skip_space();
      if (at('}')) return ++p_, true;
      if (!at(',')) return false;
      ++p_;
      skip_space();
    }
  }

  bool array(std::size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;
    skip_space();
    if (at(']')) return ++p_, true;
    for (;;) {
      if (!value(depth)) return false;
      skip_space();
      if (at(']')) return ++p_, true;
      if (!at(',')) return false;
      ++p_;
      skip_space();
    }
  }

  bool string() {
    ++p_;  // the opening quote
    for (;;) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_) return false;
      unsigned char c = *p_;
      if (c == '"') return ++p_, true;
      if (c == '\\') {
        if (!escape()) return false;
      } else if (c < 0x20) {
        return false;  // control characters must be escaped
      } else {
        std::size_t n = utf8_sequence(p_, end_);
        if (n == 0) return false;
        p_ += n;
      }
    }
  }

  bool escape() {
    if (end_ - p_ < 2) return false;
    switch (p_[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        p_ += 2;
        return true;
      case 'u': {
        int unit = code_unit();
        if (unit < 0) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a trailing surrogate alone
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          // A leading surrogate must be followed by a trailing one.
          if (!at('\\')) return false;
          if (end_ - p_ < 2 || p_[1] != 'u') return false;
          int trail = code_unit();
          if (trail < 0xDC00 || trail > 0xDFFF) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  /// The \uXXXX at p_, consumed; -1 when it is not one.
  int code_unit() {
    if (end_ - p_ < 6) return -1;
    int unit = 0;
    for (int i = 2; i < 6; ++i) {
      int d = hex_digit(p_[i]);
      if (d < 0) return -1;
      unit = unit * 16 + d;
    }
    p_ += 6;
    return unit;
  }

  bool number() {
    const unsigned char* start = p_;
    if (at('-')) ++p_;
    const unsigned char* integer = p_;
    if (at('0')) {
      ++p_;
    } else if (p_ != end_ && *p_ >= '1' && *p_ <= '9') {
      skip_digits();
    } else {
      return false;
    }
    std::size_t integer_digits = static_cast<std::size_t>(p_ - integer);
    if (at('.')) {
      ++p_;
      if (!skip_digits()) return false;
    }
    bool exponent = at('e') || at('E');
    if (exponent) {
      ++p_;
      if (at('+') || at('-')) ++p_;
      if (!skip_digits()) return false;
    }
    // Below 10^308 a number is finite; beyond, or with an exponent, ask strtod as nlohmann
    // does: it refuses what overflows a double to infinity (1e400), and nothing else.
    if (!exponent && integer_digits <= 308) return true;
    return finite(view(start, p_));
  }

  /// Skips one or more digits; false when there is none.
  bool skip_digits() {
    const unsigned char* start = p_;
    while (p_ != end_ && is_digit(*p_)) ++p_;
    return p_ != start;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size()) return false;
    if (std::memcmp(p_, word.data(), word.size()) != 0) return false;
    p_ += word.size();
    return true;
  }

  void record(std::size_t depth, const unsigned char* key, const unsigned char* key_end,
              const unsigned char* value_start) {
    if (outline_->size == Outline::kCapacity) {
      outline_->complete = false;
      return;
    }
    outline_->members[outline_->size++] =
        Member{view(key + 1, key_end - 1), view(value_start, p_), depth};
  }

  static std::string_view view(const unsigned char* from, const unsigned char* to) {
    return {reinterpret_cast<const char*>(from), static_cast<std::size_t>(to - from)};
  }

  bool at(char c) const { return p_ != end_ && *p_ == static_cast<unsigned char>(c); }

  void skip_space() {
    while (p_ != end_ && is_space(*p_)) ++p_;
  }

  const unsigned char* p_;
  const unsigned char* end_;
  std::size_t max_depth_;
  Outline* outline_;
};

}  // namespace

bool valid(std::string_view text, std::size_t max_depth, Outline* outline) {
  if (outline) {
    outline->size = 0;
    outline->complete = true;
  }
  return Validator(text, max_depth, outline).document();
}

std::string_view string_content(std::string_view string_value) {
  return string_value.substr(1, string_value.size() - 2);
}

}  // namespace switchboard::json_scan
