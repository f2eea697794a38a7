// WebSocket conformance of /ws against RFC 6455, after Autobahn's core categories (framing,
// pings, reserved bits and opcodes, fragmentation, control frames, UTF-8, close handling,
// limits, extensions). Autobahn cannot run here, so a raw POSIX socket does the upgrade by
// hand and writes frames no well-behaved client library would; every wait is bounded by
// SO_RCVTIMEO / SO_SNDTIMEO.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "support/connected_user.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;

constexpr int kWaitSeconds = 5;

enum Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};
constexpr std::uint8_t kFin = 0x80;
constexpr std::uint8_t kRsv1 = 0x40;
constexpr std::uint8_t kRsv2 = 0x20;
constexpr std::uint8_t kRsv3 = 0x10;

struct Frame {
  bool fin = false;
  std::uint8_t rsv = 0;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::string payload;
};

/// How a wait for the server's close frame ended.
struct CloseResult {
  enum Kind { close_frame, dropped, timed_out } kind = timed_out;
  int code = -1;  // the close code; 1005 for a close frame without one
  std::string describe() const {
    switch (kind) {
      case close_frame:
        return "close frame " + std::to_string(code);
      case dropped:
        return "connection dropped without a close frame";
      case timed_out:
        break;
    }
    return "no close within " + std::to_string(kWaitSeconds) + " s";
  }
};

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

/// One frame as a client writes it: `first` is FIN | RSV | opcode. Masked unless told
/// otherwise; `claimed_length` writes a length header that differs from the payload.
std::string make_frame(std::uint8_t first, std::string_view payload, bool masked = true,
                       std::optional<std::uint64_t> claimed_length = std::nullopt) {
  static constexpr std::array<std::uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};
  std::uint64_t len = claimed_length.value_or(payload.size());
  std::string f;
  f.push_back(static_cast<char>(first));
  std::uint8_t mask_bit = masked ? 0x80 : 0x00;
  if (len < 126) {
    f.push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    for (int shift = 8; shift >= 0; shift -= 8) f.push_back(static_cast<char>(len >> shift));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) f.push_back(static_cast<char>(len >> shift));
  }
  if (masked) {
    for (auto b : kMask) f.push_back(static_cast<char>(b));
  }
  for (std::size_t i = 0; i < payload.size(); ++i) {
    auto byte = static_cast<std::uint8_t>(payload[i]);
    f.push_back(static_cast<char>(masked ? byte ^ kMask[i % 4] : byte));
  }
  return f;
}

/// A WebSocket client on a bare socket: a hand-made upgrade, then frames byte by byte.
class RawWs {
 public:
  RawWs() = default;
  ~RawWs() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  /// Connects and sends the upgrade request; returns the response head (status line and
  /// headers), or "" when nothing came back in time.
  std::string upgrade(std::uint16_t port, const std::string& api_key,
                      const std::string& extra_headers = "") {
    return exchange(port,
                    "GET /ws HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "X-API-Key: " +
                        api_key + "\r\n" + extra_headers + "\r\n");
  }

  /// Connects, sends `request` as it is, and returns the response head (status line and
  /// headers), or "" when nothing came back in time. The body, if any, stays unread.
  std::string exchange(std::uint16_t port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return {};
    timeval tv{kWaitSeconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
    if (!send_raw(request)) return {};
    while (in_.find("\r\n\r\n") == std::string::npos) {
      if (!fill()) return {};
    }
    auto end = in_.find("\r\n\r\n") + 4;
    std::string head = in_.substr(0, end);
    in_.erase(0, end);
    return head;
  }

  /// Upgrades and takes the Welcome; fails the test if either does not happen.
  void open(std::uint16_t port, const std::string& api_key) {
    auto head = upgrade(port, api_key);
    ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    auto welcome = next_message();
    ASSERT_TRUE(welcome.has_value()) << "no Welcome";
    EXPECT_EQ(welcome->value("msg_type", -1), 12) << welcome->dump();
  }

  /// Caps what the kernel holds for us (64 KiB: small, yet no crawl of tiny windows), so a
  /// server writing to a client that does not read blocks early.
  void shrink_receive_buffer() {
    int size = 65536;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }

  /// Ends our side of the stream (a FIN), leaving the socket open for reading.
  void half_close() { ::shutdown(fd_, SHUT_WR); }

  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send_frame(std::uint8_t first, std::string_view payload, bool masked = true) {
    return send_raw(make_frame(first, payload, masked));
  }

  /// The next frame from the server, or nullopt when the connection ends or nothing arrives
  /// within the receive timeout.
  std::optional<Frame> read_frame() {
    if (!need(2)) return std::nullopt;
    Frame f;
    auto b0 = static_cast<std::uint8_t>(in_[0]);
    auto b1 = static_cast<std::uint8_t>(in_[1]);
    f.fin = (b0 & kFin) != 0;
    f.rsv = b0 & 0x70;
    f.opcode = b0 & 0x0f;
    f.masked = (b1 & 0x80) != 0;
    std::uint64_t len = b1 & 0x7f;
    std::size_t header = 2;
    if (len == 126 || len == 127) {
      std::size_t extra = len == 126 ? 2 : 8;
      if (!need(header + extra)) return std::nullopt;
      len = 0;
      for (std::size_t i = 0; i < extra; ++i) {
        len = (len << 8) | static_cast<std::uint8_t>(in_[header + i]);
      }
      header += extra;
    }
    std::array<std::uint8_t, 4> mask{};
    if (f.masked) {
      if (!need(header + 4)) return std::nullopt;
      for (std::size_t i = 0; i < 4; ++i) mask[i] = static_cast<std::uint8_t>(in_[header + i]);
      header += 4;
    }
    if (len > (1u << 24) || !need(header + len)) return std::nullopt;
    f.payload = in_.substr(header, len);
    if (f.masked) {
      for (std::size_t i = 0; i < f.payload.size(); ++i) {
        f.payload[i] = static_cast<char>(static_cast<std::uint8_t>(f.payload[i]) ^ mask[i % 4]);
      }
    }
    in_.erase(0, header + len);
    return f;
  }

  /// The next text message, parsed; control frames in between are skipped.
  std::optional<json> next_message() {
    for (;;) {
      auto f = read_frame();
      if (!f) return std::nullopt;
      EXPECT_FALSE(f->masked) << "a server must not mask its frames";
      if (f->opcode == kClose) return std::nullopt;
      if (f->opcode == kText) return json::parse(f->payload, nullptr, false);
    }
  }

  /// Reads until the server's close frame (skipping messages and control frames), answers it
  /// as a client should, and reports its code.
  CloseResult wait_close() {
    CloseResult r;
    for (;;) {
      auto f = read_frame();
      if (!f) {
        r.kind = eof_ ? CloseResult::dropped : CloseResult::timed_out;
        return r;
      }
      EXPECT_FALSE(f->masked) << "a server must not mask its frames";
      if (f->opcode != kClose) continue;
      r.kind = CloseResult::close_frame;
      r.code = 1005;
      if (f->payload.size() >= 2) {
        r.code = (static_cast<std::uint8_t>(f->payload[0]) << 8) |
                 static_cast<std::uint8_t>(f->payload[1]);
      }
      send_frame(kFin | kClose, close_payload(1000));
      return r;
    }
  }

 private:
  /// Reads until `n` bytes are buffered; false on timeout or end of stream.
  bool need(std::size_t n) {
    while (in_.size() < n) {
      if (!fill()) return false;
    }
    return true;
  }
  bool fill() {
    std::array<char, 16384> chunk{};
    auto n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      eof_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    in_.append(chunk.data(), static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
};

std::string header_value(const std::string& head, std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    auto colon = head.find(':', pos);
    auto eol = head.find("\r\n", pos);
    if (colon == std::string::npos || eol == std::string::npos || colon > eol) continue;
    std::string key = head.substr(pos, colon - pos);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == name) {
      auto value = head.substr(colon + 1, eol - colon - 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      return value;
    }
  }
  return {};
}

const std::string kCreateRoom = R"({"msg_type":0,"payload":{}})";

class WsConformance : public ::testing::Test {
 protected:
  void SetUp() override { key_ = register_user(server_.port(), "conformer").api_key; }

  /// A fresh, welcomed connection of the test user.
  std::unique_ptr<RawWs> open() {
    auto ws = std::make_unique<RawWs>();
    ws->open(server_.port(), key_);
    return ws;
  }

  /// The server answers CreateRoom with RoomCreated: the connection still works.
  static void expect_works(RawWs& ws) {
    ASSERT_TRUE(ws.send_frame(kFin | kText, kCreateRoom));
    auto m = ws.next_message();
    ASSERT_TRUE(m.has_value()) << "no answer to CreateRoom";
    EXPECT_EQ(m->value("msg_type", -1), 5) << m->dump();
  }

  static void expect_close(RawWs& ws, int code, const std::string& what) {
    auto r = ws.wait_close();
    EXPECT_EQ(r.kind, CloseResult::close_frame) << what << ": " << r.describe();
    EXPECT_EQ(r.code, code) << what << ": " << r.describe();
  }

  TestServer server_;
  std::string key_;
};

// --- framing ---------------------------------------------------------------------------

TEST_F(WsConformance, ValidTextFrameGetsResponse) {
  auto ws = open();
  expect_works(*ws);
}

// A connection waits for its next message with a read of no bytes, which a message of no
// bytes completes by itself: it must still count as a message (not JSON: an Error), and the
// connection must go on reading. So must a message whose pieces arrive while it waits.
TEST_F(WsConformance, EmptyMessagesAndSlowFragmentsAreMessages) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kText, ""));
  auto error = ws->next_message();
  ASSERT_TRUE(error.has_value()) << "no answer to an empty message";
  EXPECT_EQ(error->value("msg_type", -1), 7) << error->dump();
  EXPECT_EQ((*error)["payload"].value("code", ""), "bad_json") << error->dump();
  // An empty first fragment, then the rest, each sent on its own.
  ASSERT_TRUE(ws->send_frame(kText, ""));
  ASSERT_TRUE(ws->send_frame(kContinuation, std::string(kCreateRoom).substr(0, 5)));
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, std::string(kCreateRoom).substr(5)));
  auto created = ws->next_message();
  ASSERT_TRUE(created.has_value()) << "no answer to a fragmented CreateRoom";
  EXPECT_EQ(created->value("msg_type", -1), 5) << created->dump();
  expect_works(*ws);
}

TEST_F(WsConformance, UnmaskedClientFrameClose1002) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kText, kCreateRoom, /*masked=*/false));
  expect_close(*ws, 1002, "unmasked text frame");
}

TEST_F(WsConformance, BinaryFrameClose1003) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kBinary, kCreateRoom));
  expect_close(*ws, 1003, "binary frame");
}

// --- ping / pong -----------------------------------------------------------------------

TEST_F(WsConformance, PongEchoesPingPayload) {
  auto ws = open();
  for (const std::string& payload : {std::string(), std::string("hello"), std::string(125, '*'),
                                     std::string("\x00\xff\x80 binary", 10)}) {
    ASSERT_TRUE(ws->send_frame(kFin | kPing, payload));
    auto f = ws->read_frame();
    ASSERT_TRUE(f.has_value()) << "no pong for a " << payload.size() << "-byte ping";
    EXPECT_EQ(f->opcode, kPong);
    EXPECT_TRUE(f->fin);
    EXPECT_FALSE(f->masked);
    EXPECT_EQ(f->payload, payload);
  }
  expect_works(*ws);
}

TEST_F(WsConformance, UnsolicitedPongIgnored) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kPong, "unsolicited"));
  ASSERT_TRUE(ws->send_frame(kFin | kPong, ""));
  // The next frame is the answer to CreateRoom: no close, no pong in between.
  ASSERT_TRUE(ws->send_frame(kFin | kText, kCreateRoom));
  auto f = ws->read_frame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->opcode, kText);
  EXPECT_EQ(json::parse(f->payload, nullptr, false).value("msg_type", -1), 5) << f->payload;
}

// --- reserved bits and opcodes -----------------------------------------------------------

TEST_F(WsConformance, ReservedBitsClose1002) {
  struct Case {
    std::uint8_t first;
    std::string payload;
  };
  for (const Case& c :
       {Case{kFin | kRsv1 | kText, kCreateRoom}, Case{kFin | kRsv2 | kText, kCreateRoom},
        Case{kFin | kRsv3 | kText, kCreateRoom},
        Case{kFin | kRsv1 | kRsv2 | kRsv3 | kText, kCreateRoom}, Case{kFin | kRsv2 | kPing, "ping"},
        Case{kFin | kRsv1 | kClose, ""}}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(c.first, c.payload));
    expect_close(*ws, 1002, "first byte " + std::to_string(c.first));
  }
}

TEST_F(WsConformance, ReservedOpcodesClose1002) {
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(static_cast<std::uint8_t>(kFin | op), "reserved"));
    expect_close(*ws, 1002, "opcode " + std::to_string(op));
  }
}

// --- fragmentation -----------------------------------------------------------------------

TEST_F(WsConformance, TextInThreeFragmentsIsOneMessage) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kText, R"({"msg_type")"));
  ASSERT_TRUE(ws->send_frame(kContinuation, R"(:0,"payl)"));
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, R"(oad":{}})"));
  auto m = ws->next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->value("msg_type", -1), 5) << m->dump();
  expect_works(*ws);
}

TEST_F(WsConformance, PingBetweenFragmentsIsAnswered) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kText, R"({"msg_type":0,)"));
  ASSERT_TRUE(ws->send_frame(kFin | kPing, "between"));
  auto pong = ws->read_frame();
  ASSERT_TRUE(pong.has_value()) << "no pong while a message is open";
  EXPECT_EQ(pong->opcode, kPong);
  EXPECT_EQ(pong->payload, "between");
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, R"("payload":{}})"));
  auto m = ws->next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->value("msg_type", -1), 5) << m->dump();
}

TEST_F(WsConformance, ContinuationWithoutStartClose1002) {
  for (std::uint8_t first : {kFin | kContinuation, kContinuation + 0}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(static_cast<std::uint8_t>(first), kCreateRoom));
    expect_close(*ws, 1002, "continuation with nothing to continue");
  }
}

TEST_F(WsConformance, NewDataFrameDuringFragmentedMessageClose1002) {
  for (std::uint8_t second : {kFin | kText, kFin | kBinary, kText + 0}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(kText, R"({"msg_type":0,)"));
    ASSERT_TRUE(ws->send_frame(static_cast<std::uint8_t>(second), kCreateRoom));
    expect_close(*ws, 1002, "data frame while a message is open");
  }
}

// --- control frames ------------------------------------------------------------------------

TEST_F(WsConformance, ControlFramePayloadOver125Close1002) {
  for (std::uint8_t op : {kPing, kPong, kClose}) {
    auto ws = open();
    std::string payload =
        op == kClose ? close_payload(1000, std::string(124, 'r')) : std::string(126, 'p');
    ASSERT_EQ(payload.size(), 126u);
    ASSERT_TRUE(ws->send_frame(static_cast<std::uint8_t>(kFin | op), payload));
    expect_close(*ws, 1002, "126-byte control frame, opcode " + std::to_string(op));
  }
}

TEST_F(WsConformance, FragmentedControlFrameClose1002) {
  for (std::uint8_t op : {kPing, kPong, kClose}) {
    auto ws = open();
    std::string payload = op == kClose ? close_payload(1000) : "frag";
    ASSERT_TRUE(ws->send_frame(op, payload));  // FIN clear
    expect_close(*ws, 1002, "control frame without FIN, opcode " + std::to_string(op));
  }
}

// --- UTF-8 -------------------------------------------------------------------------------

TEST_F(WsConformance, InvalidUtf8Close1007) {
  for (const std::string& bad :
       {std::string("{\"msg_type\":0,\"x\":\"\xff\"}"), std::string("{\"x\":\"\xc0\xaf\"}"),
        std::string("{\"x\":\"\xed\xa0\x80\"}"),         // a UTF-16 surrogate, encoded
        std::string("{\"x\":\"\xf4\x90\x80\x80\"}")}) {  // above U+10FFFF
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(kFin | kText, bad));
    expect_close(*ws, 1007, "invalid UTF-8");
  }
}

TEST_F(WsConformance, InvalidUtf8AcrossFragmentsClose1007) {
  auto ws = open();
  // U+20AC is E2 82 AC: the first fragment ends inside it and the next breaks it off.
  ASSERT_TRUE(ws->send_frame(kText, "{\"msg_type\":0,\"x\":\"\xe2\x82"));
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, "(\"}"));
  expect_close(*ws, 1007, "invalid UTF-8 across fragments");
}

TEST_F(WsConformance, ValidUtf8SplitAcrossFragmentsIsAccepted) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kText, "{\"msg_type\":0,\"x\":\"\xe2\x82"));
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, "\xac\",\"payload\":{}}"));
  auto m = ws->next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->value("msg_type", -1), 5) << m->dump();
}

// --- close handling ------------------------------------------------------------------------

TEST_F(WsConformance, CloseNormalIsEchoed1000) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kClose, close_payload(1000, "bye")));
  expect_close(*ws, 1000, "close 1000");
}

TEST_F(WsConformance, CloseWithoutPayloadIsAnswered) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kClose, ""));
  auto r = ws->wait_close();
  EXPECT_EQ(r.kind, CloseResult::close_frame) << r.describe();
  // RFC 6455 5.5.1: the answer echoes the status (none), or is 1000.
  EXPECT_TRUE(r.code == 1005 || r.code == 1000) << r.describe();
}

TEST_F(WsConformance, InvalidCloseCodesClose1002) {
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(kFin | kClose, close_payload(code)));
    expect_close(*ws, 1002, "close code " + std::to_string(code));
  }
}

// RFC 6455 7.4.2 defines close codes up to 4999 only (4000-4999 for private use); echoing an
// undefined code back as if it meant something is wrong. Autobahn 7.13.1 and 7.13.2 send 5000
// and 65535 and accept a close with 1002 or a dropped connection.
TEST_F(WsConformance, UndefinedCloseCodesAbove4999Close1002) {
  for (std::uint16_t code : {5000, 65535}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(kFin | kClose, close_payload(code)));
    auto r = ws->wait_close();
    EXPECT_TRUE((r.kind == CloseResult::close_frame && r.code == 1002) ||
                r.kind == CloseResult::dropped)
        << "close code " << code << ": " << r.describe();
  }
}

TEST_F(WsConformance, ValidCloseCodesAreEchoed) {
  for (std::uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    auto ws = open();
    ASSERT_TRUE(ws->send_frame(kFin | kClose, close_payload(code)));
    expect_close(*ws, code, "close code " + std::to_string(code));
  }
}

TEST_F(WsConformance, CloseWithOneBytePayloadClose1002) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kClose, std::string(1, '\x03')));
  expect_close(*ws, 1002, "1-byte close payload");
}

TEST_F(WsConformance, CloseReasonWithInvalidUtf8Close1002) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kFin | kClose, close_payload(1000, "\xff\xfe")));
  auto r = ws->wait_close();
  EXPECT_EQ(r.kind, CloseResult::close_frame) << r.describe();
  // Autobahn 7.5.1 accepts either a protocol error or an invalid-payload close here.
  EXPECT_TRUE(r.code == 1002 || r.code == 1007) << r.describe();
}

// --- limits ----------------------------------------------------------------------------------

TEST_F(WsConformance, HugeLengthHeaderClose1009Promptly) {
  auto ws = open();
  auto start = std::chrono::steady_clock::now();
  // A header claiming 2^63-1 bytes, and not one byte of them.
  ASSERT_TRUE(ws->send_raw(make_frame(kFin | kText, "", true, 0x7fffffffffffffffULL)));
  expect_close(*ws, 1009, "2^63-1-byte frame header");
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  EXPECT_LT(waited.count(), 2000) << "the close took " << waited.count() << " ms";
  // The daemon is still there and well.
  EXPECT_EQ(http_request(server_.port(), "GET", "/healthz").status, 200);
}

TEST_F(WsConformance, MessageOver64KiBInSmallFragmentsClose1009) {
  auto ws = open();
  constexpr std::size_t kChunk = 1000;
  ASSERT_TRUE(ws->send_frame(kText, R"({"msg_type":0,"payload":{},"pad":")"));
  std::size_t sent = 0;
  // Up to a little over the limit; the server may close before the last one.
  while (sent <= 64 * 1024 + kChunk) {
    if (!ws->send_frame(kContinuation, std::string(kChunk, 'a'))) break;
    sent += kChunk;
  }
  expect_close(*ws, 1009, "a 65 KiB message in 1000-byte fragments");
}

TEST_F(WsConformance, MessageOfExactly64KiBIsAccepted) {
  auto ws = open();
  std::string head = R"({"msg_type":0,"payload":{},"pad":")";
  std::string tail = "\"}";
  std::string message = head + std::string(64 * 1024 - head.size() - tail.size(), 'a') + tail;
  ASSERT_EQ(message.size(), 65536u);
  ASSERT_TRUE(ws->send_frame(kFin | kText, message));
  auto m = ws->next_message();
  ASSERT_TRUE(m.has_value()) << "no answer to a message of exactly the limit";
  EXPECT_EQ(m->value("msg_type", -1), 5) << m->dump();
}

// A client that pings and never reads must not grow the server's queue. Beast answers a ping
// from inside its read, and while our writes are stuck that answer waits for them, so Beast
// reads no further: the pings wait in the client's own socket, not in our memory. Once the
// client reads, every ping is answered once, in order, behind what was queued before it.
TEST(WsConformanceFlood, PingsFromAClientThatDoesNotReadAreAnsweredInTurn) {
  TestServer server([](Settings& s) {
    s.rate_limit_burst = 1'000'000;
    s.rate_limit_per_sec = 1'000'000;
    s.ws_send_queue = 1'000'000;
  });
  RawWs ws;
  ws.open(server.port(), register_user(server.port(), "pinger").api_key);
  ws.shrink_receive_buffer();
  // 150,000 Error answers (about 14 MB) fill every buffer between us, and the server's
  // writes stall; then the pings come.
  constexpr int kGarbage = 150'000;
  constexpr int kPings = 100'000;
  std::string garbage;
  for (int i = 0; i < kGarbage; ++i) garbage += make_frame(kFin | kText, "x");
  ASSERT_TRUE(ws.send_raw(garbage));
  std::string pings;
  for (int i = 0; i < kPings; ++i) pings += make_frame(kFin | kPing, "");
  ASSERT_TRUE(ws.send_raw(pings));
  ASSERT_TRUE(ws.send_frame(kFin | kText, kCreateRoom));
  // Now read it all: the errors, then the pongs, and last the answer to CreateRoom.
  int errors = 0;
  int pongs = 0;
  for (;;) {
    auto f = ws.read_frame();
    ASSERT_TRUE(f.has_value()) << "connection ended after " << errors << " errors, " << pongs
                               << " pongs";
    if (f->opcode == kPong) {
      ++pongs;
      continue;
    }
    ASSERT_EQ(f->opcode, kText);
    auto m = json::parse(f->payload, nullptr, false);
    if (m.value("msg_type", -1) == 5) break;
    ASSERT_EQ(pongs, 0) << "an Error after a pong: the answers left out of order";
    ++errors;
  }
  EXPECT_EQ(errors, kGarbage);
  EXPECT_EQ(pongs, kPings) << "each ping is answered once";
}

// A client that sends its last message and ends the stream at once: the end arrives with the
// data, and no readiness of its own follows it. The daemon must see both (the relay goes
// through, and the room hears that the client left) without waiting for the keepalive,
// which is off here. Several clients, since the end may also arrive just after the read.
TEST(WsConformanceEnd, DataAndTheEndOfStreamTogetherAreBothSeen) {
  // Resume off: the end of the stream (no close frame) leaves the room at once.
  TestServer server([](Settings& s) {
    s.ws_ping_interval = 3600;
    s.resume_window = 0;
  });
  auto host = connect_user(server.port(), "host");
  auto room = make_room(*host, {});
  for (int i = 0; i < 8; ++i) {
    auto guest = register_user(server.port(), "guest" + std::to_string(i));
    RawWs ws;
    ws.open(server.port(), guest.api_key);
    ASSERT_TRUE(
        ws.send_frame(kFin | kText, R"({"msg_type":1,"payload":{"room_id":")" + room + R"("}})"));
    auto joined = ws.next_message();
    ASSERT_TRUE(joined.has_value());
    ASSERT_EQ(joined->value("msg_type", -1), 6) << joined->dump();
    host->ws.expect(8);  // PeerJoined
    std::string ice = R"({"msg_type":3,"to":)" + std::to_string(host->id()) +
                      R"(,"payload":{"room_id":")" + room +
                      R"(","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host",)"
                      R"("sdpMid":"0","sdpMLineIndex":0}}})";
    ASSERT_TRUE(ws.send_frame(kFin | kText, ice));
    ws.half_close();
    EXPECT_EQ(host->ws.expect(3)["from"], guest.user_id) << "guest " << i;
    EXPECT_EQ(host->ws.expect(9)["payload"]["user_id"], guest.user_id) << "guest " << i;
  }
}

// Beast checks UTF-8 as it reads but not, when the final fragment is empty, that the message
// ends on a whole sequence: the daemon checks that itself.
TEST_F(WsConformance, InvalidUtf8EndingInAnEmptyFinalFragmentClose1007) {
  auto ws = open();
  ASSERT_TRUE(ws->send_frame(kText, "{\"a\":\"\xce"));
  ASSERT_TRUE(ws->send_frame(kFin | kContinuation, ""));
  expect_close(*ws, 1007, "a message ending inside a UTF-8 sequence");
}

// Our close (1003, for a binary message) and a read that then fails (invalid UTF-8 in a text
// frame that was on its way) can wait on each other inside Beast. The connection must still
// end and give its slot back: with two connections allowed per address, each round's
// connection is admitted only once the earlier ones have given theirs back.
TEST(WsConformanceRace, ACloseRacingABrokenFrameStillFreesTheConnection) {
  // Two: the registration's own HTTP connection may still hold one for an instant.
  TestServer server([](Settings& s) { s.max_connections_per_ip = 2; });
  auto key = register_user(server.port(), "racer").api_key;
  // A welcomed connection, once the server admits one; null if it never does. The slot of
  // an ended connection comes back as its session ends, an instant after the socket: poll,
  // bounded.
  auto admitted = [&]() -> std::unique_ptr<RawWs> {
    for (int attempt = 0; attempt < 40; ++attempt) {
      auto ws = std::make_unique<RawWs>();
      if (ws->upgrade(server.port(), key).rfind("HTTP/1.1 101", 0) == 0 && ws->next_message()) {
        return ws;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return nullptr;
  };
  const std::string bad = "abc\xff" + std::string(60, 'x');
  const std::string text = make_frame(kFin | kText, bad);
  const std::size_t split = text.size() - bad.size() + 3;  // the header and "abc"
  // Each round leaves a connection behind if the two wait on each other for good: the
  // second round would then find no slot.
  for (int round = 0; round < 3; ++round) {
    auto ws = admitted();
    ASSERT_TRUE(ws) << "round " << round << ": an earlier connection's slot was never freed";
    ASSERT_TRUE(ws->send_raw(make_frame(kFin | kBinary, "bin") + text.substr(0, split)));
    ASSERT_TRUE(ws->send_raw(text.substr(split)));
    // The server closes (1003, or 1007), or drops the connection within its close bound.
    auto r = ws->wait_close();
    EXPECT_NE(r.kind, CloseResult::timed_out) << "round " << round << ": " << r.describe();
  }
  EXPECT_TRUE(admitted()) << "the last round's slot was never freed";
}

// --- the opening handshake ------------------------------------------------------------------

std::string upgrade_request(const std::string& api_key, const std::string& key_line,
                            const std::string& version_line) {
  return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\n" +
         key_line + version_line + "X-API-Key: " + api_key + "\r\n\r\n";
}

TEST_F(WsConformance, UpgradeForAnotherVersionIs426NamingVersion13) {
  for (std::string version : {"Sec-WebSocket-Version: 8\r\n", ""}) {
    RawWs ws;
    auto head = ws.exchange(
        server_.port(),
        upgrade_request(key_, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", version));
    EXPECT_EQ(head.rfind("HTTP/1.1 426", 0), 0u) << head;
    EXPECT_EQ(header_value(head, "Sec-WebSocket-Version"), "13") << head;
  }
}

TEST_F(WsConformance, UpgradeWithoutAValidKeyIs400) {
  for (std::string key : {std::string(), std::string("Sec-WebSocket-Key: abc\r\n"),
                          std::string("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n"),
                          // base64 of 15 bytes: the right alphabet, the wrong size
                          std::string("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n")}) {
    RawWs ws;
    auto head =
        ws.exchange(server_.port(), upgrade_request(key_, key, "Sec-WebSocket-Version: 13\r\n"));
    EXPECT_EQ(head.rfind("HTTP/1.1 400", 0), 0u) << key << head;
  }
}

// A client may send its first frames right behind the upgrade request, in the same packet.
TEST_F(WsConformance, FramesSentWithTheUpgradeRequestAreRead) {
  RawWs ws;
  auto request = upgrade_request(key_, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                                 "Sec-WebSocket-Version: 13\r\n") +
                 make_frame(kFin | kText, kCreateRoom, true);
  auto head = ws.exchange(server_.port(), request);
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  auto welcome = ws.next_message();
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->value("msg_type", -1), 12) << welcome->dump();
  auto created = ws.next_message();
  ASSERT_TRUE(created.has_value()) << "the frame sent with the request was lost";
  EXPECT_EQ(created->value("msg_type", -1), 5) << created->dump();
}

// --- extensions ----------------------------------------------------------------------------

TEST_F(WsConformance, PermessageDeflateIsNotNegotiated) {
  RawWs ws;
  auto head =
      ws.upgrade(server_.port(), key_,
                 "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  EXPECT_EQ(header_value(head, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") << head;
  EXPECT_EQ(header_value(head, "Sec-WebSocket-Extensions"), "") << head;
  // Without the extension, RSV1 (a compressed message) is a protocol error.
  auto welcome = ws.next_message();
  ASSERT_TRUE(welcome.has_value());
  ASSERT_TRUE(ws.send_frame(kFin | kRsv1 | kText, kCreateRoom));
  auto r = ws.wait_close();
  EXPECT_EQ(r.code, 1002) << r.describe();
}

}  // namespace
}  // namespace switchboard::test
