#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard {

/// RFC 6455 framing for the server side of a connection, without I/O: the signaling hot path
/// reads many frames per system call and writes many per gathered write, which Beast's
/// one-message-per-operation stream cannot do. Beast still parses the HTTP upgrade.
namespace ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Close codes this layer decides on its own (the signaling ones are in peer.hpp).
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseUnsupportedData = 1003;
inline constexpr std::uint16_t kCloseNoStatus = 1005;  // never on the wire
inline constexpr std::uint16_t kCloseInvalidPayload = 1007;
inline constexpr std::uint16_t kCloseTooBig = 1009;

/// The largest header a server frame needs: 2 bytes, then a 64-bit length (never masked).
inline constexpr std::size_t kMaxServerHeader = 10;

/// Writes the header of an unfragmented, unmasked frame of `opcode` carrying `length` bytes
/// into `out`; returns how many bytes it used.
std::size_t write_frame_header(Opcode opcode, std::size_t length,
                               std::span<std::uint8_t, kMaxServerHeader> out);

/// The payload of a close frame: the code in network order, then the reason.
std::string close_payload(std::uint16_t code, std::string_view reason);

/// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above
/// U+10FFFF), as RFC 6455 requires of every text message and close reason.
bool valid_utf8(std::string_view text);

/// True for a close code a peer may send: RFC 6455 section 7.4 and the registry up to 1013,
/// as Beast and Autobahn have it (1014, a gateway's, never comes from a browser).
bool valid_close_code(std::uint16_t code);

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

/// True when `key` is what RFC 6455 asks a client to send: 16 bytes, base64 encoded.
bool valid_client_key(std::string_view key);

/// What the next complete frame in a buffer means to the connection.
struct Event {
  enum class Kind {
    need_more,  // no complete frame yet: read more and call again with the same bytes
    fragment,   // a piece of a fragmented message was taken in; nothing to do yet
    text,       // a whole text message: `payload`
    ping,       // answer with a pong carrying `payload`
    pong,       // nothing to do
    close,      // the peer closes with `code` (kCloseNoStatus if it gave none) and `payload`
    fail,       // the peer broke the protocol: close with `code`, `payload` is the reason
  };
  Kind kind = Kind::need_more;
  std::string_view payload;  // valid until the next call, or until the input bytes change
  std::uint16_t code = 0;
};

/// The kind's name, for logs and test messages.
const char* to_string(Event::Kind kind);

/// Incremental parser of client frames. Each call looks at the start of the unread bytes,
/// and when a whole frame is there, unmasks it in place and returns what it means with how
/// many bytes it used. Limits hold before any payload is buffered: a header that announces
/// more than `max_message` bytes in total fails with 1009 at once.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_message) : max_message_(max_message) {}

  struct Step {
    std::size_t consumed = 0;
    Event event;
  };
  Step next(std::span<char> unread);

  /// The text event just returned has been handled: a fragmented message's buffer goes now,
  /// not when the next frame comes (an idle connection keeps no buffer).
  void message_handled();

  /// Memory held between messages (the buffer of a fragmented message, if any).
  std::size_t buffered() const { return fragments_.capacity(); }

 private:
  Step fail(std::uint16_t code, std::string_view reason) const;

  std::size_t max_message_;
  bool in_message_ = false;         // a fragmented text message is open
  bool failed_ = false;             // after a failure, nothing more is parsed
  bool release_fragments_ = false;  // the last message was handed out of fragments_
  std::string fragments_;           // the open fragmented message so far
};

}  // namespace ws
}  // namespace switchboard
