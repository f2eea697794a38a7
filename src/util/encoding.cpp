#include "switchboard/util/encoding.hpp"

#include <charconv>

#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace switchboard {

namespace {
// libsodium must be initialised before first use (it picks the fastest Argon2 and hash
// implementations for this CPU and seeds its generator). Every binary that links the core
// links this file, so doing it here covers the daemon, the tests, the fuzzers and the bench.
[[maybe_unused]] const bool sodium_ready = [] {
  if (sodium_init() < 0) std::abort();
  return true;
}();

std::string sodium_base64(std::span<const std::uint8_t> bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL libsodium writes
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  return sodium_base64(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  return sodium_base64(bytes, sodium_base64_VARIANT_ORIGINAL);
}

// libsodium's, as the webhook signatures use: constant-time, and strict about odd lengths.
std::string hex_encode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();  // the NUL libsodium writes
  return out;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  std::size_t written = 0;
  // No hex_end: a digit that is not hex fails the whole call rather than ending it early.
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &written, nullptr) != 0 ||
      written != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string random_token(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  randombytes_buf(bytes.data(), bytes.size());
  return base64url_encode(bytes);
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace switchboard
