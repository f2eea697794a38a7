#include "switchboard/net/ws_frame.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cstring>

#include "switchboard/util/utf8.hpp"

namespace switchboard::ws {

namespace {

constexpr std::size_t kMaxControlPayload = 125;

bool is_control(std::uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

std::uint64_t read_be(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// XORs `data` with the 4-byte `key`, eight bytes at a time where it can.
void unmask(char* data, std::size_t n, const unsigned char key[4]) {
  std::uint32_t k32;
  std::memcpy(&k32, key, 4);
  std::uint64_t k64 = (static_cast<std::uint64_t>(k32) << 32) | k32;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, data + i, 8);
    v ^= k64;
    std::memcpy(data + i, &v, 8);
  }
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

}  // namespace

std::size_t write_frame_header(Opcode opcode, std::size_t length,
                               std::span<std::uint8_t, kMaxServerHeader> out) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(opcode));
  if (length <= 125) {
    out[1] = static_cast<std::uint8_t>(length);
    return 2;
  }
  if (length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(length >> 8);
    out[3] = static_cast<std::uint8_t>(length);
    return 4;
  }
  out[1] = 127;
  auto v = static_cast<std::uint64_t>(length);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return 10;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // Most signaling text is ASCII: skip it eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      if (v & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p == end) break;
    std::size_t n = utf8_sequence(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

bool valid_close_code(std::uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  // 1012 and 1013 as Beast admits them; 1014 (a gateway's) is not for a client to send.
  if (code >= 1007 && code <= 1013) return true;
  return code >= 3000 && code <= 4999;
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(client_key.size() + kGuid.size());
  input.append(client_key).append(kGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr);
  std::string out(sodium_base64_ENCODED_LEN(digest_size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), digest.data(), digest_size,
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool valid_client_key(std::string_view key) {
  if (key.size() != 24) return false;
  std::array<unsigned char, 18> bytes{};
  std::size_t size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bytes.data(), bytes.size(), key.data(), key.size(), nullptr, &size, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  return end == key.data() + key.size() && size == 16;
}

FrameReader::Step FrameReader::fail(std::uint16_t code, std::string_view reason) const {
  Step s;
  s.event.kind = Event::Kind::fail;
  s.event.code = code;
  s.event.payload = reason;
  return s;
}

const char* to_string(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::need_more:
      return "need_more";
    case Event::Kind::fragment:
      return "fragment";
    case Event::Kind::text:
      return "text";
    case Event::Kind::ping:
      return "ping";
    case Event::Kind::pong:
      return "pong";
    case Event::Kind::close:
      return "close";
    case Event::Kind::fail:
      return "fail";
  }
  return "?";
}

void FrameReader::message_handled() {
  if (!release_fragments_) return;
  std::string().swap(fragments_);
  release_fragments_ = false;
}

FrameReader::Step FrameReader::next(std::span<char> unread) {
  if (failed_) return fail(kCloseProtocolError, "protocol error");
  message_handled();  // in case the caller did not say so
  const auto* b = reinterpret_cast<const unsigned char*>(unread.data());
  const std::size_t have = unread.size();
  if (have < 2) return {};

  const bool fin = (b[0] & 0x80) != 0;
  const std::uint8_t rsv = b[0] & 0x70;
  const std::uint8_t opcode = b[0] & 0x0F;
  const bool masked = (b[1] & 0x80) != 0;
  const std::uint8_t len7 = b[1] & 0x7F;

  // Everything the first two bytes can tell is checked before waiting for more.
  auto failed = [this](std::uint16_t code, std::string_view reason) {
    failed_ = true;
    return fail(code, reason);
  };
  if (rsv != 0) return failed(kCloseProtocolError, "reserved bits set");
  if (!masked) return failed(kCloseProtocolError, "client frames must be masked");
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::continuation:
      if (!in_message_) return failed(kCloseProtocolError, "continuation of nothing");
      break;
    case Opcode::text:
      if (in_message_) return failed(kCloseProtocolError, "new message inside a fragmented one");
      break;
    case Opcode::binary:
      if (in_message_) return failed(kCloseProtocolError, "new message inside a fragmented one");
      return failed(kCloseUnsupportedData, "binary frames are not supported");
    case Opcode::close:
    case Opcode::ping:
    case Opcode::pong:
      if (!fin) return failed(kCloseProtocolError, "fragmented control frame");
      if (len7 > kMaxControlPayload) return failed(kCloseProtocolError, "control frame too long");
      break;
    default:
      return failed(kCloseProtocolError, "reserved opcode");
  }

  std::size_t header = 2;
  std::uint64_t length = len7;
  if (len7 == 126) {
    header += 2;
    if (have < header) return {};
    length = read_be(b + 2, 2);
  } else if (len7 == 127) {
    header += 8;
    if (have < header) return {};
    length = read_be(b + 2, 8);
    if (length >> 63) return failed(kCloseProtocolError, "frame length has its top bit set");
  }
  // The limit holds on the announced length, before a byte of the payload is waited for.
  const std::size_t so_far = in_message_ ? fragments_.size() : 0;
  if (!is_control(opcode) && length > max_message_ - so_far) {
    return failed(kCloseTooBig, "message too big");
  }
  header += 4;  // the masking key
  if (have < header || have - header < length) return {};

  const unsigned char* key = b + header - 4;
  char* payload = unread.data() + header;
  const auto n = static_cast<std::size_t>(length);
  unmask(payload, n, key);
  std::string_view data(payload, n);

  Step s;
  s.consumed = header + n;
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::ping:
      s.event.kind = Event::Kind::ping;
      s.event.payload = data;
      return s;
    case Opcode::pong:
      s.event.kind = Event::Kind::pong;
      return s;
    case Opcode::close: {
      s.event.kind = Event::Kind::close;
      if (n == 0) {
        s.event.code = kCloseNoStatus;
        return s;
      }
      if (n == 1) return failed(kCloseProtocolError, "one-byte close payload");
      auto code =
          static_cast<std::uint16_t>(read_be(reinterpret_cast<const unsigned char*>(payload), 2));
      if (!valid_close_code(code)) return failed(kCloseProtocolError, "invalid close code");
      auto reason = data.substr(2);
      if (!valid_utf8(reason)) return failed(kCloseInvalidPayload, "close reason is not UTF-8");
      s.event.code = code;
      s.event.payload = reason;
      return s;
    }
    default:
      break;
  }

  // A data frame: the whole message at once (the common case, no copy), or a piece of one.
  if (!in_message_ && fin) {
    if (!valid_utf8(data)) return failed(kCloseInvalidPayload, "text is not UTF-8");
    s.event.kind = Event::Kind::text;
    s.event.payload = data;
    return s;
  }
  fragments_.append(data);
  if (!fin) {
    in_message_ = true;
    s.event.kind = Event::Kind::fragment;
    return s;
  }
  in_message_ = false;
  if (!valid_utf8(fragments_)) return failed(kCloseInvalidPayload, "text is not UTF-8");
  // The message is handed out from fragments_, which the next call empties.
  s.event.kind = Event::Kind::text;
  s.event.payload = fragments_;
  release_fragments_ = true;
  return s;
}

}  // namespace switchboard::ws
