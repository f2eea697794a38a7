// Fuzzes ws::FrameReader as a connection drives it: the bytes arrive in chunks (simulated
// reads), are appended to an unread buffer, and next() is called until it needs more, the
// consumed bytes being dropped each time. An independent model of RFC 6455 reads the same
// bytes and says, for every call, which fail codes the bytes seen so far justify and, for a
// complete legal frame, the exact event; the reader must agree.
//
// Input: byte 0 picks max_message (16, 125, 1000, 65536); byte 1 is a count n of chunk-size
// bytes that follow (each a read's size, 0 meaning "all the rest", used in turn); the rest is
// what the client sends.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/net/ws_frame.hpp"

namespace {

namespace ws = switchboard::ws;
using Kind = ws::Event::Kind;

constexpr std::size_t kMaxMessages[] = {16, 125, 1000, 65536};

std::string g_trace;  // what the current input did, printed when an invariant breaks

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\ntrace:\n%s\n", what.c_str(), g_trace.c_str());
  std::abort();
}

#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (false)

std::string hex(std::string_view s, std::size_t max = 64) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  if (s.size() > max) out += "...";
  return out;
}

// --- An independent UTF-8 check (Unicode Table 3-7), not ws::valid_utf8 ----------------------

enum class Utf8 { valid, incomplete, invalid };  // incomplete: a valid prefix cut mid-character

Utf8 check_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return Utf8::invalid;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return Utf8::incomplete;
      auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xBFu)) return Utf8::invalid;
    }
    i += n + 1;
  }
  return Utf8::valid;
}

bool close_code_ok(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) ||
         (code >= 3000 && code <= 4999);
}

// --- The model --------------------------------------------------------------------------------

struct Model {
  std::size_t max_message = 0;
  bool in_message = false;  // a fragmented text message is open
  std::string message;      // its unmasked bytes so far
};

// What the model makes of the unread bytes at one call.
struct Prediction {
  bool header_complete = false;  // 2 bytes, the extended length, and 4 bytes (a mask key)
  bool frame_complete = false;
  std::size_t frame_size = 0;
  std::vector<std::uint16_t> required;  // the bytes seen break the protocol: fail with one
  std::vector<std::uint16_t> optional;  // a fail with one of these is also right
  // For a complete frame that breaks nothing: what the reader must return.
  Kind kind = Kind::need_more;
  std::string payload;
  std::uint16_t code = 0;
  // How the model changes when the frame is taken in.
  bool opens_or_extends = false;
  bool ends_message = false;
};

bool contains(const std::vector<std::uint16_t>& v, std::uint16_t c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

std::string codes(const std::vector<std::uint16_t>& v) {
  std::string s;
  for (auto c : v) s += (s.empty() ? "" : ",") + std::to_string(c);
  return "{" + s + "}";
}

Prediction predict(const Model& m, std::string_view in) {
  Prediction p;
  if (in.empty()) return p;
  auto b0 = static_cast<unsigned char>(in[0]);
  const bool fin = (b0 & 0x80) != 0;
  const unsigned rsv = (b0 >> 4) & 7;
  const unsigned op = b0 & 0x0F;
  const bool control = (op & 0x8) != 0;
  const bool known = op <= 2 || (op >= 8 && op <= 10);

  if (rsv != 0) p.required.push_back(1002);
  if (!known) p.required.push_back(1002);
  if (op == 2) p.required.push_back(1003);
  if (op == 0 && !m.in_message) p.required.push_back(1002);
  if ((op == 1 || op == 2) && m.in_message) p.required.push_back(1002);
  if (control && !fin) p.required.push_back(1002);
  if (in.size() < 2) return p;

  auto b1 = static_cast<unsigned char>(in[1]);
  const bool masked = (b1 & 0x80) != 0;
  const unsigned len7 = b1 & 0x7F;
  if (!masked) p.required.push_back(1002);
  if (control && len7 > 125) p.required.push_back(1002);
  const std::size_t ext = len7 == 126 ? 2 : (len7 == 127 ? 8 : 0);
  if (in.size() < 2 + ext) return p;

  std::uint64_t len = len7;
  if (ext > 0) {
    len = 0;
    for (std::size_t i = 0; i < ext; ++i) len = (len << 8) | static_cast<unsigned char>(in[2 + i]);
    // RFC 6455 5.2: the minimal encoding MUST be used; the top bit of a 64-bit length is 0.
    if ((ext == 2 && len < 126) || (ext == 8 && len <= 0xFFFF)) p.optional.push_back(1002);
    if (ext == 8 && (len >> 63) != 0) {
      p.required.push_back(1002);
      p.optional.push_back(1009);
    }
  }
  if (control && len == 1 && op == 8) p.optional.push_back(1002);  // may be seen early
  // The limit holds for a message's data; a control frame over it may be refused too.
  const std::uint64_t before = (op == 0 && m.in_message) ? m.message.size() : 0;
  if (!control && op <= 2 && (before > m.max_message || len > m.max_message - before)) {
    p.required.push_back(1009);
  }
  if (len > m.max_message) p.optional.push_back(1009);
  if (in.size() < 2 + ext + 4) return p;
  p.header_complete = true;
  if (!masked) return p;  // broken already; where its payload would end does not matter

  const std::size_t header = 2 + ext + 4;
  if (len > in.size() - header) return p;
  p.frame_complete = true;
  p.frame_size = header + static_cast<std::size_t>(len);
  if (!p.required.empty()) return p;

  std::string payload(in.substr(header, static_cast<std::size_t>(len)));
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^
                                   static_cast<unsigned char>(in[2 + ext + i % 4]));
  }
  switch (op) {
    case 0:
    case 1: {
      std::string whole = m.message + payload;
      Utf8 u = check_utf8(whole);
      if (fin) {
        if (u != Utf8::valid) p.required.push_back(1007);
        p.kind = Kind::text;
        p.payload = std::move(whole);
        p.ends_message = true;
      } else {
        if (u == Utf8::invalid) p.optional.push_back(1007);  // failing early is fine
        p.kind = Kind::fragment;
        p.payload = std::move(payload);
        p.opens_or_extends = true;
      }
      break;
    }
    case 8:
      p.kind = Kind::close;
      if (payload.empty()) {
        p.code = ws::kCloseNoStatus;
      } else if (payload.size() == 1) {
        p.required.push_back(1002);
      } else {
        p.code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]));
        if (!close_code_ok(p.code)) p.required.push_back(1002);
        p.payload = payload.substr(2);
        if (check_utf8(p.payload) != Utf8::valid) {
          p.required.push_back(1007);
          p.required.push_back(1002);
        }
      }
      break;
    case 9:
      p.kind = Kind::ping;
      p.payload = std::move(payload);
      break;
    case 10:
      p.kind = Kind::pong;
      break;
    default:
      fail("the model missed an opcode");
  }
  return p;
}

std::string describe(const Prediction& p) {
  return std::string("model: header_complete=") + (p.header_complete ? "1" : "0") +
         " frame_complete=" + (p.frame_complete ? "1" : "0") +
         " frame_size=" + std::to_string(p.frame_size) + " required=" + codes(p.required) +
         " optional=" + codes(p.optional) + " kind=" + ws::to_string(p.kind) +
         " code=" + std::to_string(p.code) + " payload=" + hex(p.payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t max_message = kMaxMessages[data[0] & 3];
  std::string_view rest = input.substr(1);
  std::string_view sizes;
  if (!rest.empty()) {
    std::size_t n = std::min<std::size_t>(static_cast<unsigned char>(rest[0]), rest.size() - 1);
    sizes = rest.substr(1, n);
    rest = rest.substr(1 + n);
  }
  const std::string_view stream = rest;
  const bool trace = std::getenv("FUZZ_TRACE") != nullptr;
  g_trace = "max_message " + std::to_string(max_message) + ", " + std::to_string(stream.size()) +
            " bytes in " +
            (sizes.empty() ? "one read" : std::to_string(sizes.size()) + " read sizes") + "\n";

  ws::FrameReader reader(max_message);
  Model model;
  model.max_message = max_message;
  std::string unread;
  std::size_t at = 0;
  std::size_t read_index = 0;
  bool stopped = false;
  bool failed = false;

  while (at < stream.size() && !stopped) {
    std::size_t chunk = stream.size() - at;
    if (!sizes.empty()) {
      auto s = static_cast<unsigned char>(sizes[read_index++ % sizes.size()]);
      if (s != 0) chunk = std::min<std::size_t>(chunk, s);
    }
    unread.append(stream.substr(at, chunk));
    at += chunk;
    g_trace +=
        "read " + std::to_string(chunk) + " (unread " + std::to_string(unread.size()) + ")\n";

    for (;;) {
      Prediction want = predict(model, unread);
      const std::size_t before = unread.size();
      ws::FrameReader::Step step = reader.next(std::span<char>(unread.data(), unread.size()));
      const ws::Event& ev = step.event;
      g_trace += std::string("  next: ") + ws::to_string(ev.kind) +
                 " code=" + std::to_string(ev.code) + " consumed=" + std::to_string(step.consumed) +
                 " payload=" + hex(ev.payload) + "\n    " + describe(want) + "\n";
      if (trace) {
        std::fputs(g_trace.c_str(), stderr);
        g_trace.clear();
      }

      CHECK(step.consumed <= before);
      if (ev.kind == Kind::need_more) {
        CHECK(step.consumed == 0);
        CHECK(!want.frame_complete);  // a whole frame is there: it must be answered
        // Limits and broken headers are answered before any payload is waited for.
        CHECK(!(want.header_complete && !want.required.empty()));
        break;
      }
      if (ev.kind == Kind::fail) {
        CHECK(ev.code == 1002 || ev.code == 1003 || ev.code == 1007 || ev.code == 1009);
        CHECK(contains(want.required, ev.code) || contains(want.optional, ev.code));
        // The reason goes into a close frame: at most 123 bytes of UTF-8.
        CHECK(ev.payload.size() <= 123);
        CHECK(check_utf8(ev.payload) == Utf8::valid);
        stopped = true;
        failed = true;
        break;
      }
      // Any other event: a whole legal frame, read exactly as the model reads it.
      CHECK(want.required.empty());
      CHECK(want.frame_complete);
      CHECK(step.consumed == want.frame_size);
      CHECK(step.consumed >= 6);
      CHECK(ev.kind == want.kind);
      switch (ev.kind) {
        case Kind::text:
          CHECK(ev.payload == want.payload);
          CHECK(check_utf8(ev.payload) == Utf8::valid);
          CHECK(ev.payload.size() <= max_message);
          break;
        case Kind::ping:
          CHECK(ev.payload.size() <= 125);
          CHECK(ev.payload == want.payload);
          break;
        case Kind::close:
          CHECK(ev.code == ws::kCloseNoStatus || close_code_ok(ev.code));
          CHECK(ev.code == want.code);
          CHECK(ev.payload == want.payload);
          CHECK(check_utf8(ev.payload) == Utf8::valid);
          break;
        default:
          break;
      }
      if (want.opens_or_extends) {
        model.in_message = true;
        model.message += want.payload;
      }
      if (want.ends_message) {
        model.in_message = false;
        model.message.clear();
      }
      unread.erase(0, step.consumed);
      CHECK(reader.buffered() <= 2 * max_message + 64);
      if (ev.kind == Kind::close) {  // a connection reads no further after a close
        stopped = true;
        break;
      }
    }
    CHECK(reader.buffered() <= 2 * max_message + 64);
  }

  // After a failure, nothing is parsed again: whatever comes, the reader fails.
  if (failed) {
    CHECK(reader.next(std::span<char>(unread.data(), unread.size())).event.kind == Kind::fail);
    CHECK(reader.next(std::span<char>()).event.kind == Kind::fail);
    std::string ping("\x89\x80\x00\x00\x00\x00", 6);  // an empty masked ping
    CHECK(reader.next(std::span<char>(ping.data(), ping.size())).event.kind == Kind::fail);
  }
  return 0;
}
