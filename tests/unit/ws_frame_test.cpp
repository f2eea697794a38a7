#include "switchboard/net/ws_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::ws {
namespace {

using Kind = Event::Kind;
using Step = FrameReader::Step;

constexpr std::uint8_t kCont = 0x0;
constexpr std::uint8_t kText = 0x1;
constexpr std::uint8_t kBinary = 0x2;
constexpr std::uint8_t kClose = 0x8;
constexpr std::uint8_t kPing = 0x9;
constexpr std::uint8_t kPong = 0xA;

// ---------------------------------------------------------------------------------------------
// Building client frames

enum class LengthForm { minimal, b16, b64 };

struct FrameOpts {
  bool fin = true;
  std::uint8_t rsv = 0;  // the three RSV bits, 0..7
  bool masked = true;
  std::array<std::uint8_t, 4> key = {0x37, 0xfa, 0x21, 0x3d};
  LengthForm form = LengthForm::minimal;
};

// The header of a client frame announcing `length` payload bytes, mask key included.
std::string header(std::uint8_t opcode, std::uint64_t length, const FrameOpts& o = {}) {
  std::string h;
  h.push_back(static_cast<char>((o.fin ? 0x80 : 0x00) | ((o.rsv & 7) << 4) | (opcode & 0x0F)));
  const int mask_bit = o.masked ? 0x80 : 0x00;
  LengthForm form = o.form;
  if (form == LengthForm::minimal) {
    form =
        length < 126 ? LengthForm::minimal : (length <= 0xFFFF ? LengthForm::b16 : LengthForm::b64);
  }
  switch (form) {
    case LengthForm::minimal:
      h.push_back(static_cast<char>(mask_bit | static_cast<int>(length)));
      break;
    case LengthForm::b16:
      h.push_back(static_cast<char>(mask_bit | 126));
      h.push_back(static_cast<char>((length >> 8) & 0xFF));
      h.push_back(static_cast<char>(length & 0xFF));
      break;
    case LengthForm::b64:
      h.push_back(static_cast<char>(mask_bit | 127));
      for (int shift = 56; shift >= 0; shift -= 8) {
        h.push_back(static_cast<char>((length >> shift) & 0xFF));
      }
      break;
  }
  if (o.masked) {
    for (std::uint8_t b : o.key) h.push_back(static_cast<char>(b));
  }
  return h;
}

// A whole client frame: header, then the payload masked with the key (if masked).
std::string frame(std::uint8_t opcode, std::string_view payload, const FrameOpts& o = {}) {
  std::string f = header(opcode, payload.size(), o);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    auto b = static_cast<std::uint8_t>(payload[i]);
    if (o.masked) b ^= o.key[i % 4];
    f.push_back(static_cast<char>(b));
  }
  return f;
}

FrameOpts not_fin() {
  FrameOpts o;
  o.fin = false;
  return o;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return frame(kClose, p);
}

// ---------------------------------------------------------------------------------------------
// Reading them back

std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

// What a call returned, with the payload copied out of the (short-lived) input buffer.
struct Got {
  std::size_t consumed = 0;
  Kind kind = Kind::need_more;
  std::string payload;
  std::uint16_t code = 0;
};

std::string describe(const Got& g) {
  return std::string(to_string(g.kind)) + " code=" + std::to_string(g.code) +
         " consumed=" + std::to_string(g.consumed) + " payload=\"" + printable(g.payload) + "\"";
}

Got call(FrameReader& reader, std::string& bytes) {
  Step s = reader.next(std::span<char>(bytes.data(), bytes.size()));
  return Got{s.consumed, s.event.kind, std::string(s.event.payload), s.event.code};
}

testing::AssertionResult IsKind(const Got& g, Kind k) {
  if (g.kind == k) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "expected " << to_string(k) << ", got " << describe(g);
}

testing::AssertionResult IsFail(const Got& g, std::uint16_t code) {
  if (g.kind == Kind::fail && g.code == code) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "expected fail " << code << ", got " << describe(g);
}

testing::AssertionResult IsFailWithAnyOf(const Got& g, std::initializer_list<std::uint16_t> codes) {
  if (g.kind == Kind::fail) {
    for (auto c : codes) {
      if (g.code == c) return testing::AssertionSuccess();
    }
  }
  std::string want;
  for (auto c : codes) want += (want.empty() ? "" : "/") + std::to_string(c);
  return testing::AssertionFailure() << "expected fail " << want << ", got " << describe(g);
}

// A connection's view: an unread buffer that frames are appended to and consumed bytes are
// dropped from.
class Conn {
 public:
  explicit Conn(std::size_t max_message = 1 << 20) : reader_(max_message) {}

  void push(std::string_view bytes) { unread_.append(bytes); }

  Got next() {
    Got g = call(reader_, unread_);
    EXPECT_LE(g.consumed, unread_.size()) << describe(g);
    if (g.kind == Kind::need_more) {
      EXPECT_EQ(g.consumed, 0u);
    }
    unread_.erase(0, std::min(g.consumed, unread_.size()));
    return g;
  }

  // Pushes a whole frame and reads the one event it makes.
  Got send(std::string_view frame_bytes) {
    push(frame_bytes);
    return next();
  }

  // Pushes the frames one by one until the reader fails (or they run out); returns the last.
  Got send_until_fail(const std::vector<std::string>& frames) {
    Got g;
    for (const auto& f : frames) {
      g = send(f);
      if (g.kind == Kind::fail) break;
    }
    return g;
  }

  std::size_t unread() const { return unread_.size(); }
  FrameReader& reader() { return reader_; }

 private:
  FrameReader reader_;
  std::string unread_;
};

// ---------------------------------------------------------------------------------------------
// Basic frames

TEST(WsFrame, MaskedTextFrameIsUnmaskedAndConsumedWhole) {
  FrameReader reader(1000);
  std::string bytes = frame(kText, "Hello");
  // RFC 6455 section 5.7's example of a masked "Hello".
  EXPECT_EQ(bytes, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  Got g = call(reader, bytes);
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "Hello");
  EXPECT_EQ(g.consumed, bytes.size());
}

TEST(WsFrame, EmptyTextFrame) {
  FrameReader reader(1000);
  std::string bytes = frame(kText, "");
  ASSERT_EQ(bytes.size(), 6u);
  Got g = call(reader, bytes);
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "");
  EXPECT_EQ(g.consumed, 6u);
}

TEST(WsFrame, MaskKeysAreApplied) {
  const std::string payload = "the quick brown fox jumps over the lazy dog";
  for (std::array<std::uint8_t, 4> key : {std::array<std::uint8_t, 4>{0, 0, 0, 0},
                                          std::array<std::uint8_t, 4>{0xff, 0xff, 0xff, 0xff},
                                          std::array<std::uint8_t, 4>{0x01, 0x80, 0x7f, 0xfe}}) {
    FrameOpts o;
    o.key = key;
    FrameReader reader(1000);
    std::string bytes = frame(kText, payload, o);
    Got g = call(reader, bytes);
    ASSERT_TRUE(IsKind(g, Kind::text));
    EXPECT_EQ(g.payload, payload);
  }
}

TEST(WsFrame, SixteenAndSixtyFourBitLengths) {
  const std::string medium(200, 'm');
  const std::string big(70000, 'b');
  FrameReader reader(100000);
  std::string bytes = frame(kText, medium);
  ASSERT_EQ(bytes.size(), 2 + 2 + 4 + medium.size());
  Got g = call(reader, bytes);
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, medium);
  EXPECT_EQ(g.consumed, bytes.size());

  bytes = frame(kText, big);
  ASSERT_EQ(bytes.size(), 2 + 8 + 4 + big.size());
  g = call(reader, bytes);
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, big);
  EXPECT_EQ(g.consumed, bytes.size());

  // The boundaries of each encoding.
  for (std::size_t n : {125u, 126u, 65535u, 65536u}) {
    std::string p(n, 'x');
    bytes = frame(kText, p);
    g = call(reader, bytes);
    ASSERT_TRUE(IsKind(g, Kind::text)) << n;
    EXPECT_EQ(g.payload.size(), n);
    EXPECT_EQ(g.consumed, bytes.size());
  }
}

TEST(WsFrame, TwoFramesInOneBufferComeOutOneAtATime) {
  FrameReader reader(1000);
  std::string first = frame(kText, "first message");
  std::string second = frame(kText, "second", FrameOpts{.key = {1, 2, 3, 4}});
  std::string bytes = first + second;

  Step s = reader.next(std::span<char>(bytes.data(), bytes.size()));
  ASSERT_EQ(s.event.kind, Kind::text) << to_string(s.event.kind);
  EXPECT_EQ(s.event.payload, "first message");
  EXPECT_EQ(s.consumed, first.size());

  std::span<char> rest(bytes.data() + s.consumed, bytes.size() - s.consumed);
  s = reader.next(rest);
  ASSERT_EQ(s.event.kind, Kind::text) << to_string(s.event.kind);
  EXPECT_EQ(s.event.payload, "second");
  EXPECT_EQ(s.consumed, second.size());

  s = reader.next(std::span<char>(bytes.data() + bytes.size(), 0));
  EXPECT_EQ(s.event.kind, Kind::need_more) << to_string(s.event.kind);
  EXPECT_EQ(s.consumed, 0u);
}

TEST(WsFrame, EveryPrefixOfAFrameNeedsMore) {
  const std::vector<std::string> frames = {
      frame(kText, "short"),
      frame(kText, std::string(300, 'a')),    // 16-bit length
      frame(kText, std::string(70000, 'z')),  // 64-bit length
      frame(kPing, "pp"),
      close_frame(1000, "done"),
  };
  for (const auto& f : frames) {
    SCOPED_TRACE("frame of " + std::to_string(f.size()) + " bytes");
    for (std::size_t len = 0; len < f.size(); ++len) {
      // Every prefix of the small frames; of the big one, the header and a sample after it.
      if (f.size() > 1000 && len > 20 && len % 997 != 0 && len + 3 < f.size()) continue;
      FrameReader reader(100000);
      std::string prefix = f.substr(0, len);
      Got g = call(reader, prefix);
      ASSERT_TRUE(IsKind(g, Kind::need_more)) << "prefix of " << len;
      ASSERT_EQ(g.consumed, 0u) << "prefix of " << len;
      // need_more leaves the bytes as they were: they are read again on the next call.
      ASSERT_EQ(prefix, f.substr(0, len)) << "prefix of " << len;
    }
  }
}

TEST(WsFrame, AFrameArrivingByteByByteIsReadOnceWhole) {
  // The same reader and the same growing buffer, as a connection reading one byte at a time.
  const std::string payload = "caf\xc3\xa9 \xe2\x82\xac " + std::string(150, 'q');
  const std::string f = frame(kText, payload) + frame(kPing, "hi");
  FrameReader reader(1000);
  std::string unread;
  std::vector<Got> events;
  for (char c : f) {
    unread.push_back(c);
    for (;;) {
      Got g = call(reader, unread);
      ASSERT_LE(g.consumed, unread.size());
      if (g.kind == Kind::need_more) {
        ASSERT_EQ(g.consumed, 0u);
        break;
      }
      events.push_back(g);
      unread.erase(0, g.consumed);
    }
  }
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(IsKind(events[0], Kind::text));
  EXPECT_EQ(events[0].payload, payload);
  ASSERT_TRUE(IsKind(events[1], Kind::ping));
  EXPECT_EQ(events[1].payload, "hi");
  EXPECT_TRUE(unread.empty());
}

// ---------------------------------------------------------------------------------------------
// Protocol errors in the header

TEST(WsFrame, UnmaskedClientFrameFails1002) {
  FrameOpts o;
  o.masked = false;
  for (std::uint8_t op : {kText, kPing, kPong, kClose}) {
    Conn c;
    EXPECT_TRUE(IsFail(c.send(frame(op, "", o)), kCloseProtocolError)) << int{op};
    Conn d;
    EXPECT_TRUE(IsFail(d.send(frame(op, "abc", o)), kCloseProtocolError)) << int{op};
  }
}

TEST(WsFrame, AnyRsvBitFails1002) {
  for (std::uint8_t rsv = 1; rsv < 8; ++rsv) {
    FrameOpts o;
    o.rsv = rsv;
    for (std::uint8_t op : {kText, kPing, kClose}) {
      Conn c;
      EXPECT_TRUE(IsFail(c.send(frame(op, "x", o)), kCloseProtocolError))
          << "rsv " << int{rsv} << " opcode " << int{op};
    }
  }
}

TEST(WsFrame, ReservedOpcodesFail1002) {
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    Conn c;
    EXPECT_TRUE(IsFail(c.send(frame(op, "x")), kCloseProtocolError)) << "opcode " << int{op};
    Conn d;
    EXPECT_TRUE(IsFail(d.send(frame(op, "")), kCloseProtocolError)) << "opcode " << int{op};
  }
}

TEST(WsFrame, BinaryFrameFails1003) {
  Conn c;
  EXPECT_TRUE(IsFail(c.send(frame(kBinary, "\x01\x02\x03")), kCloseUnsupportedData));
  Conn d;
  EXPECT_TRUE(IsFail(d.send(frame(kBinary, "")), kCloseUnsupportedData));
  Conn e;  // the first fragment of a binary message
  EXPECT_TRUE(IsFail(e.send(frame(kBinary, "ab", not_fin())), kCloseUnsupportedData));
}

TEST(WsFrame, SixtyFourBitLengthWithTheTopBitSetFails) {
  // RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0.
  Conn c(1000);
  FrameOpts o;
  o.form = LengthForm::b64;
  Got g = c.send(header(kText, 0x8000000000000000ull, o));
  EXPECT_TRUE(IsFailWithAnyOf(g, {kCloseProtocolError, kCloseTooBig}));
}

// ---------------------------------------------------------------------------------------------
// Fragmentation

TEST(WsFrame, TextInThreeFragments) {
  Conn c;
  Got g = c.send(frame(kText, "Hel", not_fin()));
  EXPECT_TRUE(IsKind(g, Kind::fragment));
  EXPECT_EQ(c.unread(), 0u);
  g = c.send(frame(kCont, "lo, ", not_fin()));
  EXPECT_TRUE(IsKind(g, Kind::fragment));
  EXPECT_EQ(c.unread(), 0u);
  g = c.send(frame(kCont, "world"));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "Hello, world");
  EXPECT_EQ(c.unread(), 0u);

  // The reader is ready for the next message, fragmented or not.
  g = c.send(frame(kText, "next"));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "next");
  EXPECT_TRUE(IsKind(c.send(frame(kText, "a", not_fin())), Kind::fragment));
  g = c.send(frame(kCont, "b"));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "ab");
}

TEST(WsFrame, FragmentsInOneBuffer) {
  FrameReader reader(1000);
  const std::string a = frame(kText, "one ", not_fin());
  const std::string b = frame(kCont, "two ", not_fin());
  const std::string p = frame(kPing, "ping!");
  const std::string d = frame(kCont, "three");
  std::string bytes = a + b + p + d;
  std::size_t at = 0;
  std::vector<Got> events;
  while (at < bytes.size()) {
    Step s = reader.next(std::span<char>(bytes.data() + at, bytes.size() - at));
    ASSERT_NE(s.event.kind, Kind::need_more);
    ASSERT_NE(s.event.kind, Kind::fail) << s.event.code;
    events.push_back(Got{s.consumed, s.event.kind, std::string(s.event.payload), s.event.code});
    at += s.consumed;
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(IsKind(events[0], Kind::fragment));
  EXPECT_EQ(events[0].consumed, a.size());
  EXPECT_TRUE(IsKind(events[1], Kind::fragment));
  EXPECT_EQ(events[1].consumed, b.size());
  EXPECT_TRUE(IsKind(events[2], Kind::ping));
  EXPECT_EQ(events[2].payload, "ping!");
  EXPECT_EQ(events[2].consumed, p.size());
  ASSERT_TRUE(IsKind(events[3], Kind::text));
  EXPECT_EQ(events[3].payload, "one two three");
  EXPECT_EQ(events[3].consumed, d.size());
}

TEST(WsFrame, ControlFramesBetweenFragments) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kText, "frag", not_fin())), Kind::fragment));
  Got g = c.send(frame(kPing, "are you there"));
  ASSERT_TRUE(IsKind(g, Kind::ping));
  EXPECT_EQ(g.payload, "are you there");
  EXPECT_TRUE(IsKind(c.send(frame(kCont, "men", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(c.send(frame(kPong, "")), Kind::pong));
  g = c.send(frame(kCont, "ted"));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "fragmented");
}

TEST(WsFrame, EmptyFragments) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kText, "", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(c.send(frame(kCont, "", not_fin())), Kind::fragment));
  Got g = c.send(frame(kCont, ""));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, "");
}

TEST(WsFrame, ContinuationWithoutAMessageFails1002) {
  Conn c;
  EXPECT_TRUE(IsFail(c.send(frame(kCont, "orphan")), kCloseProtocolError));
  Conn d;
  EXPECT_TRUE(IsFail(d.send(frame(kCont, "orphan", not_fin())), kCloseProtocolError));
  // Also right after a fragmented message has completed.
  Conn e;
  EXPECT_TRUE(IsKind(e.send(frame(kText, "a", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(e.send(frame(kCont, "b")), Kind::text));
  EXPECT_TRUE(IsFail(e.send(frame(kCont, "c")), kCloseProtocolError));
  // And after an unfragmented one.
  Conn f;
  EXPECT_TRUE(IsKind(f.send(frame(kText, "a")), Kind::text));
  EXPECT_TRUE(IsFail(f.send(frame(kCont, "c")), kCloseProtocolError));
}

TEST(WsFrame, NewDataFrameInsideAFragmentedMessageFails1002) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kText, "first", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsFail(c.send(frame(kText, "second")), kCloseProtocolError));
  Conn d;
  EXPECT_TRUE(IsKind(d.send(frame(kText, "first", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsFail(d.send(frame(kText, "second", not_fin())), kCloseProtocolError));
  Conn e;  // a binary frame there is a protocol error, or unsupported data
  EXPECT_TRUE(IsKind(e.send(frame(kText, "first", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsFailWithAnyOf(e.send(frame(kBinary, "second")),
                              {kCloseProtocolError, kCloseUnsupportedData}));
}

// ---------------------------------------------------------------------------------------------
// Control frames

TEST(WsFrame, PingPayloadIsReturned) {
  Conn c;
  Got g = c.send(frame(kPing, "payload \x01\xff"));
  ASSERT_TRUE(IsKind(g, Kind::ping));
  EXPECT_EQ(g.payload, "payload \x01\xff");  // any bytes: a ping's payload is not text
  g = c.send(frame(kPing, ""));
  ASSERT_TRUE(IsKind(g, Kind::ping));
  EXPECT_EQ(g.payload, "");
  const std::string longest(125, 'p');
  g = c.send(frame(kPing, longest));
  ASSERT_TRUE(IsKind(g, Kind::ping));
  EXPECT_EQ(g.payload, longest);
}

TEST(WsFrame, PongIsReported) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kPong, "")), Kind::pong));
  EXPECT_TRUE(IsKind(c.send(frame(kPong, "unsolicited")), Kind::pong));
  EXPECT_EQ(c.unread(), 0u);
  EXPECT_TRUE(IsKind(c.send(frame(kText, "still fine")), Kind::text));
}

TEST(WsFrame, ControlPayloadOver125Fails1002) {
  for (std::uint8_t op : {kPing, kPong, kClose}) {
    Conn c;
    std::string payload(126, 'x');
    if (op == kClose) payload[0] = '\x03', payload[1] = '\xe8';
    EXPECT_TRUE(IsFail(c.send(frame(op, payload)), kCloseProtocolError)) << int{op};
    // Decided from the header: the payload need not be there.
    Conn d;
    EXPECT_TRUE(IsFail(d.send(header(op, 126)), kCloseProtocolError)) << int{op};
    Conn e;
    FrameOpts o;
    o.form = LengthForm::b64;
    EXPECT_TRUE(IsFail(e.send(header(op, 1u << 20, o)), kCloseProtocolError)) << int{op};
  }
}

TEST(WsFrame, ControlFrameWithoutFinFails1002) {
  for (std::uint8_t op : {kPing, kPong, kClose}) {
    Conn c;
    EXPECT_TRUE(IsFail(c.send(frame(op, "", not_fin())), kCloseProtocolError)) << int{op};
    Conn d;  // also inside a fragmented message
    EXPECT_TRUE(IsKind(d.send(frame(kText, "a", not_fin())), Kind::fragment));
    EXPECT_TRUE(IsFail(d.send(frame(op, "", not_fin())), kCloseProtocolError)) << int{op};
  }
}

// ---------------------------------------------------------------------------------------------
// Close

TEST(WsFrame, CloseWithoutPayloadHasNoStatus) {
  Conn c;
  Got g = c.send(frame(kClose, ""));
  ASSERT_TRUE(IsKind(g, Kind::close));
  EXPECT_EQ(g.code, kCloseNoStatus);
  EXPECT_EQ(g.payload, "");
  EXPECT_EQ(c.unread(), 0u);
}

TEST(WsFrame, CloseWithOneBytePayloadFails1002) {
  Conn c;
  EXPECT_TRUE(IsFail(c.send(frame(kClose, "\x03")), kCloseProtocolError));
}

TEST(WsFrame, CloseWithInvalidCodeFails1002) {
  for (std::uint16_t code :
       {0, 1, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    Conn c;
    EXPECT_TRUE(IsFail(c.send(close_frame(code, "")), kCloseProtocolError)) << code;
    Conn d;
    EXPECT_TRUE(IsFail(d.send(close_frame(code, "reason")), kCloseProtocolError)) << code;
  }
}

TEST(WsFrame, CloseWithValidCodeAndReason) {
  for (std::uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999}) {
    Conn c;
    Got g = c.send(close_frame(code, "going away \xe2\x9c\x93"));
    ASSERT_TRUE(IsKind(g, Kind::close)) << code;
    EXPECT_EQ(g.code, code);
    EXPECT_EQ(g.payload, "going away \xe2\x9c\x93");
    Conn d;
    g = d.send(close_frame(code, ""));
    ASSERT_TRUE(IsKind(g, Kind::close)) << code;
    EXPECT_EQ(g.code, code);
    EXPECT_EQ(g.payload, "");
  }
  Conn e;  // the longest close: 2 + 123
  const std::string reason(123, 'r');
  Got g = e.send(close_frame(1000, reason));
  ASSERT_TRUE(IsKind(g, Kind::close));
  EXPECT_EQ(g.payload, reason);
}

TEST(WsFrame, CloseReasonMustBeUtf8) {
  for (std::string_view bad :
       {std::string_view("\xff"), std::string_view("ok\xc0\x80"), std::string_view("\xed\xa0\x80"),
        std::string_view("cut \xe2\x82")}) {
    Conn c;
    EXPECT_TRUE(IsFailWithAnyOf(c.send(close_frame(1000, bad)),
                                {kCloseProtocolError, kCloseInvalidPayload}))
        << printable(bad);
  }
}

TEST(WsFrame, CloseInsideAFragmentedMessage) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kText, "half", not_fin())), Kind::fragment));
  Got g = c.send(close_frame(1001, "bye"));
  ASSERT_TRUE(IsKind(g, Kind::close));
  EXPECT_EQ(g.code, 1001);
  EXPECT_EQ(g.payload, "bye");
}

// ---------------------------------------------------------------------------------------------
// UTF-8 in messages

TEST(WsFrame, InvalidUtf8TextFails1007) {
  for (std::string_view bad :
       {std::string_view("\xff"), std::string_view("abc\xc0\x80"), std::string_view("\xed\xa0\x80"),
        std::string_view("\xf4\x90\x80\x80"), std::string_view("truncated \xe2\x82"),
        std::string_view("\x80"), std::string_view("0123456789abcdefghij\xfe")}) {
    Conn c;
    EXPECT_TRUE(IsFail(c.send(frame(kText, bad)), kCloseInvalidPayload)) << printable(bad);
  }
}

TEST(WsFrame, InvalidUtf8SplitAcrossFragmentsFails1007) {
  // E0 is a fine start, but E0 80 is overlong: only the second fragment shows it.
  {
    Conn c;
    EXPECT_TRUE(IsKind(c.send(frame(kText, "ok \xe0", not_fin())), Kind::fragment));
    EXPECT_TRUE(IsFail(c.send(frame(kCont, "\x80\x80 more")), kCloseInvalidPayload));
  }
  // A surrogate, ED A0 80, one byte per fragment: failing at the second is allowed.
  {
    Conn c;
    Got g = c.send_until_fail(
        {frame(kText, "\xed", not_fin()), frame(kCont, "\xa0", not_fin()), frame(kCont, "\x80")});
    EXPECT_TRUE(IsFail(g, kCloseInvalidPayload));
  }
  // A message whose last fragment cuts a character short.
  {
    Conn c;
    Got g = c.send_until_fail({frame(kText, "abc", not_fin()), frame(kCont, "\xf0\x9f\x98")});
    EXPECT_TRUE(IsFail(g, kCloseInvalidPayload));
  }
  // Clearly invalid in the first fragment: failing at once or at the end are both fine.
  {
    Conn c;
    Got g = c.send_until_fail({frame(kText, "\xff", not_fin()), frame(kCont, "abc")});
    EXPECT_TRUE(IsFail(g, kCloseInvalidPayload));
  }
}

TEST(WsFrame, ValidCharacterSplitAcrossFragments) {
  // U+1F600 (F0 9F 98 80) and U+20AC (E2 82 AC), split at every point.
  for (std::string_view ch : {std::string_view("\xf0\x9f\x98\x80"),
                              std::string_view("\xe2\x82\xac"), std::string_view("\xc3\xa9")}) {
    for (std::size_t cut = 1; cut < ch.size(); ++cut) {
      Conn c;
      std::string first = "x" + std::string(ch.substr(0, cut));
      std::string second = std::string(ch.substr(cut)) + "y";
      EXPECT_TRUE(IsKind(c.send(frame(kText, first, not_fin())), Kind::fragment));
      Got g = c.send(frame(kCont, second));
      ASSERT_TRUE(IsKind(g, Kind::text)) << printable(ch) << " cut at " << cut;
      EXPECT_EQ(g.payload, "x" + std::string(ch) + "y");
    }
  }
  // One byte per fragment.
  Conn c;
  const std::string s = "\xf0\x9f\x98\x80";
  EXPECT_TRUE(IsKind(c.send(frame(kText, s.substr(0, 1), not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(c.send(frame(kCont, s.substr(1, 1), not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(c.send(frame(kCont, s.substr(2, 1), not_fin())), Kind::fragment));
  Got g = c.send(frame(kCont, s.substr(3, 1)));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, s);
}

// ---------------------------------------------------------------------------------------------
// valid_utf8

// An independent decoder to compare valid_utf8 with (Unicode Table 3-7).
bool reference_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b == 0xE0) {
      n = 2, lo = 0xA0;
    } else if (b >= 0xE1 && b <= 0xEC) {
      n = 2;
    } else if (b == 0xED) {
      n = 2, hi = 0x9F;
    } else if (b >= 0xEE && b <= 0xEF) {
      n = 2;
    } else if (b == 0xF0) {
      n = 3, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      n = 3;
    } else if (b == 0xF4) {
      n = 3, hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      unsigned min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
      if (c < min || c > max) return false;
    }
    i += n + 1;
  }
  return true;
}

TEST(WsFrame, ValidUtf8Table) {
  struct Case {
    std::string_view text;
    bool valid;
  };
  const Case cases[] = {
      {"", true},
      {"hello", true},
      {std::string_view("\0", 1), true},
      {"\x7f", true},
      {"\xc2\x80", true},                   // U+0080
      {"\xc3\xa9", true},                   // é
      {"\xdf\xbf", true},                   // U+07FF
      {"\xe0\xa0\x80", true},               // U+0800
      {"\xe2\x82\xac", true},               // €
      {"\xed\x9f\xbf", true},               // U+D7FF
      {"\xee\x80\x80", true},               // U+E000
      {"\xef\xbf\xbf", true},               // U+FFFF
      {"\xf0\x90\x80\x80", true},           // U+10000
      {"\xf0\x9f\x98\x80", true},           // 😀
      {"\xf4\x8f\xbf\xbf", true},           // U+10FFFF
      {"\xc0\x80", false},                  // overlong NUL
      {"\xc1\xbf", false},                  // overlong
      {"\xe0\x80\x80", false},              // overlong
      {"\xe0\x9f\xbf", false},              // overlong
      {"\xf0\x80\x80\x80", false},          // overlong
      {"\xf0\x8f\xbf\xbf", false},          // overlong
      {"\xed\xa0\x80", false},              // U+D800, a surrogate
      {"\xed\xbf\xbf", false},              // U+DFFF
      {"\xed\xa0\xbd\xed\xb8\x80", false},  // a surrogate pair (CESU-8)
      {"\xf4\x90\x80\x80", false},          // U+110000
      {"\xf5\x80\x80\x80", false},
      {"\xf8\x88\x80\x80\x80", false},  // 5-byte form
      {"\xfc\x84\x80\x80\x80\x80", false},
      {"\xfe", false},
      {"\xff", false},
      {"\xc3", false},  // truncated at the end
      {"\xe2\x82", false},
      {"\xf0\x9f\x98", false},
      {"abc\xf0", false},
      {"\x80", false},  // stray continuation bytes
      {"\xbf", false},
      {"a\x80z", false},
      {"\xc3\xa9\xa9", false},
      {"\xe2\x82\xac\x80", false},
      {"\xc3\x28", false},  // a lead byte followed by a non-continuation
      {"\xe2\x28\xa1", false},
      {"\xe2\x82\x28", false},
      {"\xf0\x28\x8c\xbc", false},
      {"\xf0\x90\x28\xbc", false},
      {"\xf0\x90\x8c\x28", false},
      {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},  // κόσμε
  };
  for (const auto& c : cases) {
    EXPECT_EQ(valid_utf8(c.text), c.valid) << printable(c.text);
    EXPECT_EQ(reference_utf8(c.text), c.valid) << "reference: " << printable(c.text);
  }
}

TEST(WsFrame, ValidUtf8LongAsciiRunsWithOneBadByteAnywhere) {
  for (std::size_t len : {15u, 16u, 17u, 31u, 32u, 33u, 63u, 64u, 65u, 100u}) {
    const std::string ascii(len, 'a');
    EXPECT_TRUE(valid_utf8(ascii)) << len;
    for (std::size_t at = 0; at < len; ++at) {
      for (char bad : {'\x80', '\xbf', '\xc0', '\xc3', '\xe2', '\xf0', '\xf8', '\xff'}) {
        std::string s = ascii;
        s[at] = bad;
        EXPECT_FALSE(valid_utf8(s))
            << "len " << len << " bad byte " << printable(s.substr(at, 1)) << " at " << at;
      }
      // A valid multi-byte character at the same place keeps it valid; cut short, it is not.
      for (std::string_view ch : {std::string_view("\xc3\xa9"), std::string_view("\xe2\x82\xac"),
                                  std::string_view("\xf0\x9f\x98\x80")}) {
        std::string s = ascii;
        s.replace(at, 1, ch);
        EXPECT_TRUE(valid_utf8(s)) << "len " << len << " at " << at << ": " << printable(s);
        std::string cut = ascii.substr(0, at) + std::string(ch.substr(0, ch.size() - 1));
        EXPECT_FALSE(valid_utf8(cut)) << printable(cut);
      }
      // Overlong, surrogate and beyond-U+10FFFF forms in the middle of ASCII.
      for (std::string_view bad_seq :
           {std::string_view("\xc0\x80"), std::string_view("\xe0\x80\x80"),
            std::string_view("\xf0\x80\x80\x80"), std::string_view("\xed\xa0\x80"),
            std::string_view("\xf4\x90\x80\x80")}) {
        std::string s = ascii;
        s.replace(at, 1, bad_seq);
        EXPECT_FALSE(valid_utf8(s)) << "len " << len << " at " << at << ": " << printable(s);
      }
    }
  }
}

TEST(WsFrame, ValidUtf8AgreesWithAReferenceOnAllShortStrings) {
  // Every 1- and 2-byte string, and every 3-byte one, with and without a long ASCII prefix
  // (to reach any fast path for ASCII runs).
  const std::string prefix(17, 'p');
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    ASSERT_EQ(valid_utf8(s), reference_utf8(s)) << printable(s);
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(valid_utf8(s), reference_utf8(s)) << printable(s);
      ASSERT_EQ(valid_utf8(prefix + s), reference_utf8(s)) << printable(prefix + s);
    }
  }
  std::string with_prefix = prefix + "xyz";
  for (int a = 0x80; a < 256; ++a) {  // an ASCII first byte makes it a 2-byte case again
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        bool want = reference_utf8(s);
        ASSERT_EQ(valid_utf8(s), want) << printable(s);
        with_prefix.replace(prefix.size(), 3, s);
        ASSERT_EQ(valid_utf8(with_prefix), want) << printable(with_prefix);
      }
    }
  }
  // 4-byte strings: every lead byte with boundary values after it.
  const int edges[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
  for (int a = 0xc0; a < 256; ++a) {
    for (int b : edges) {
      for (int c : edges) {
        for (int d : edges) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                    static_cast<char>(d)});
          ASSERT_EQ(valid_utf8(s), reference_utf8(s)) << printable(s);
          ASSERT_EQ(valid_utf8(prefix + s), reference_utf8(s)) << printable(prefix + s);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST(WsFrame, HugeLengthFails1009FromTheHeaderAlone) {
  FrameOpts o;
  o.form = LengthForm::b64;
  std::string h = header(kText, 0x7FFFFFFFFFFFFFFFull, o);
  ASSERT_EQ(h.size(), 14u);
  Conn c(100);
  EXPECT_TRUE(IsFail(c.send(h), kCloseTooBig));
  // Also as the first fragment of a message.
  FrameOpts frag = o;
  frag.fin = false;
  Conn d(100);
  EXPECT_TRUE(IsFail(d.send(header(kText, 0x7FFFFFFFFFFFFFFFull, frag)), kCloseTooBig));
  // And as a continuation.
  Conn e(100);
  EXPECT_TRUE(IsKind(e.send(frame(kText, "abc", not_fin())), Kind::fragment));
  EXPECT_TRUE(IsFail(e.send(header(kCont, 0x7FFFFFFFFFFFFFFFull, o)), kCloseTooBig));
}

TEST(WsFrame, FrameOneOverTheLimitFails1009FromItsHeader) {
  Conn c(100);
  EXPECT_TRUE(IsFail(c.send(header(kText, 101)), kCloseTooBig));
  Conn d(100);  // with the whole frame there too
  EXPECT_TRUE(IsFail(d.send(frame(kText, std::string(101, 'a'))), kCloseTooBig));
  Conn e(100);  // or a 16-bit length
  EXPECT_TRUE(IsFail(e.send(header(kText, 70000)), kCloseTooBig));
}

TEST(WsFrame, FragmentsOverTheLimitFail1009) {
  Conn c(100);
  EXPECT_TRUE(IsKind(c.send(frame(kText, std::string(60, 'a'), not_fin())), Kind::fragment));
  // The control frame in between does not count toward the message.
  EXPECT_TRUE(IsKind(c.send(frame(kPing, std::string(50, 'p'))), Kind::ping));
  EXPECT_TRUE(IsKind(c.send(frame(kCont, std::string(30, 'b'), not_fin())), Kind::fragment));
  // 60 + 30 + 11 = 101: refused from the header, before the payload is there.
  EXPECT_TRUE(IsFail(c.send(header(kCont, 11)), kCloseTooBig));

  Conn d(100);  // the same with the whole frame present, and the last fragment final
  Got g = d.send_until_fail(
      {frame(kText, std::string(60, 'a'), not_fin()), frame(kCont, std::string(41, 'b'))});
  EXPECT_TRUE(IsFail(g, kCloseTooBig));
}

TEST(WsFrame, ExactlyTheLimitIsAccepted) {
  Conn c(100);
  Got g = c.send(frame(kText, std::string(100, 'a')));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload.size(), 100u);

  EXPECT_TRUE(IsKind(c.send(frame(kText, std::string(40, 'a'), not_fin())), Kind::fragment));
  EXPECT_TRUE(IsKind(c.send(frame(kCont, std::string(40, 'b'), not_fin())), Kind::fragment));
  g = c.send(frame(kCont, std::string(20, 'c')));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, std::string(40, 'a') + std::string(40, 'b') + std::string(20, 'c'));
  EXPECT_LE(c.reader().buffered(), 2 * 100u + 64);

  // The limit is per message: the next one starts from zero.
  g = c.send(frame(kText, std::string(100, 'd')));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, std::string(100, 'd'));
}

TEST(WsFrame, AfterAFailureNothingIsParsed) {
  const std::vector<std::string> breakers = {
      frame(kBinary, "b"),
      frame(kCont, "c"),
      frame(kText, "\xff"),
      header(kText, 101),
      frame(kText, "x", FrameOpts{.masked = false}),
  };
  for (const auto& bad : breakers) {
    Conn c(100);
    Got g = c.send(bad);
    ASSERT_TRUE(IsKind(g, Kind::fail)) << printable(bad);
    // Good frames afterwards are not parsed; each call fails again.
    for (int i = 0; i < 3; ++i) {
      std::string good = frame(kText, "good") + frame(kPing, "p");
      FrameReader& r = c.reader();
      Got again = call(r, good);
      EXPECT_TRUE(IsKind(again, Kind::fail)) << printable(bad) << " then call " << i;
      std::string empty;
      again = call(r, empty);
      EXPECT_TRUE(IsKind(again, Kind::fail)) << printable(bad) << " then empty call " << i;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing frames

TEST(WsFrame, WriteFrameHeader) {
  struct Case {
    Opcode opcode;
    std::size_t length;
    std::vector<std::uint8_t> bytes;
  };
  const Case cases[] = {
      {Opcode::text, 0, {0x81, 0x00}},
      {Opcode::text, 125, {0x81, 0x7D}},
      {Opcode::text, 126, {0x81, 0x7E, 0x00, 0x7E}},
      {Opcode::text, 65535, {0x81, 0x7E, 0xFF, 0xFF}},
      {Opcode::text, 65536, {0x81, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
      {Opcode::text, std::size_t{1} << 32, {0x81, 0x7F, 0, 0, 0, 0x01, 0, 0, 0, 0}},
      {Opcode::text, 0x0102030405060708ull, {0x81, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8}},
      {Opcode::binary, 5, {0x82, 0x05}},
      {Opcode::close, 2, {0x88, 0x02}},
      {Opcode::ping, 0, {0x89, 0x00}},
      {Opcode::pong, 125, {0x8A, 0x7D}},
  };
  for (const auto& c : cases) {
    std::array<std::uint8_t, kMaxServerHeader> out;
    out.fill(0xEE);
    std::size_t n = write_frame_header(c.opcode, c.length, out);
    ASSERT_EQ(n, c.bytes.size()) << "length " << c.length;
    EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(n)), c.bytes)
        << "length " << c.length;
    EXPECT_EQ(out[1] & 0x80, 0) << "a server frame is never masked";
    for (std::size_t i = n; i < out.size(); ++i) EXPECT_EQ(out[i], 0xEE) << "wrote past " << n;
  }
}

TEST(WsFrame, ServerFramesParseAsFramesOnceMasked) {
  // What write_frame_header makes is a frame header: masking it (as a client would) gives a
  // frame the reader takes back.
  const std::string payload = "round trip";
  std::array<std::uint8_t, kMaxServerHeader> out{};
  std::size_t n = write_frame_header(Opcode::text, payload.size(), out);
  std::string bytes(reinterpret_cast<const char*>(out.data()), n);
  bytes[1] = static_cast<char>(bytes[1] | 0x80);
  bytes += std::string("\0\0\0\0", 4) + payload;
  FrameReader reader(1000);
  Got g = call(reader, bytes);
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload, payload);
}

TEST(WsFrame, ClosePayload) {
  EXPECT_EQ(close_payload(1000, "bye"), std::string("\x03\xe8"
                                                    "bye"));
  EXPECT_EQ(close_payload(1009, ""), std::string("\x03\xf1", 2));
  EXPECT_EQ(close_payload(4000, "x"), std::string("\x0f\xa0x", 3));
  EXPECT_EQ(close_payload(65535, ""), std::string("\xff\xff", 2));
  EXPECT_EQ(close_payload(256, ""), std::string("\x01\x00", 2));
}

TEST(WsFrame, ClosePayloadParsesBack) {
  Conn c;
  Got g = c.send(frame(kClose, close_payload(4321, "app reason")));
  ASSERT_TRUE(IsKind(g, Kind::close));
  EXPECT_EQ(g.code, 4321);
  EXPECT_EQ(g.payload, "app reason");
}

TEST(WsFrame, ValidCloseCode) {
  for (std::uint32_t code = 0; code <= 0xFFFF; ++code) {
    const bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) ||
                      (code >= 3000 && code <= 4999);
    ASSERT_EQ(valid_close_code(static_cast<std::uint16_t>(code)), want) << code;
  }
}

// ---------------------------------------------------------------------------------------------
// The handshake keys

TEST(WsFrame, AcceptKeyMatchesRfc6455Example) {
  // RFC 6455 section 1.3: SHA-1 of the key and the GUID is b3 7a 4f 2c c0 62 4f 16 90 f6 46 06
  // cf 38 59 45 b2 be c4 ea, which base64 makes "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // A second vector, computed with Python's hashlib and base64.
  EXPECT_EQ(accept_key("AAECAwQFBgcICQoLDA0ODw=="), "Bz3qJYTGdOe8gUSpLosEdiLKDrk=");
}

TEST(WsFrame, ValidClientKey) {
  EXPECT_TRUE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(valid_client_key("AAECAwQFBgcICQoLDA0ODw=="));  // bytes 0..15
  EXPECT_FALSE(valid_client_key(""));
  EXPECT_FALSE(valid_client_key("abc"));
  EXPECT_FALSE(valid_client_key("!!!!!!!!!!!!!!!!!!!!!!=="));  // 24 chars, not base64
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25j ZQ="));  // 24 chars with a space
  EXPECT_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ!!"));
  EXPECT_FALSE(valid_client_key("AAECAwQFBgcICQoLDA0O"));      // base64 of 15 bytes
  EXPECT_FALSE(valid_client_key("AAECAwQFBgcICQoLDA0ODxA="));  // base64 of 17 bytes
  EXPECT_FALSE(valid_client_key("AAECAwQFBgcICQoLDA0ODxAR"));  // base64 of 18 bytes
  EXPECT_FALSE(
      valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="
                       "dGhlIHNhbXBsZSBub25jZQ=="));
}

}  // namespace
}  // namespace switchboard::ws

namespace switchboard::ws {
namespace {

// An idle connection keeps no buffer: once a fragmented message has been handled, its
// buffer goes, without waiting for the next frame.
TEST(WsFrame, FragmentBufferIsReleasedOnceTheMessageIsHandled) {
  Conn c;
  EXPECT_TRUE(IsKind(c.send(frame(kText, std::string(1000, 'a'), not_fin())), Kind::fragment));
  EXPECT_GE(c.reader().buffered(), 1000u);
  Got g = c.send(frame(kCont, "b"));
  ASSERT_TRUE(IsKind(g, Kind::text));
  EXPECT_EQ(g.payload.size(), 1001u);
  c.reader().message_handled();
  EXPECT_LE(c.reader().buffered(), std::string().capacity());  // what an empty string holds
}

}  // namespace
}  // namespace switchboard::ws
