#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard {

/// Base64url without padding (RFC 4648 section 5): API keys, tickets and room ids.
std::string base64url_encode(std::span<const std::uint8_t> bytes);
/// Standard base64 with padding: TURN REST API credentials.
std::string base64_encode(std::span<const std::uint8_t> bytes);
/// Lower-case hex of raw bytes (a key hash, which may hold any byte, in text that is split on
/// a separator or must be UTF-8), and back: nullopt for an odd length or a non-hex digit.
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);
/// `n` bytes from libsodium's CSPRNG, written as base64url.
std::string random_token(std::size_t n);
/// Lower-case copy for ASCII (usernames are ASCII by validation).
std::string ascii_lower(std::string_view s);
/// Decodes %XX escapes; returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);
/// `text` as an unsigned 64-bit number written in plain decimal digits (no sign, no fraction,
/// no exponent, nothing around it); nullopt for anything else, an empty text included.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

}  // namespace switchboard
