#include "switchboard/cluster/redis_url.hpp"

#include <charconv>
#include <optional>

namespace switchboard {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = hex_value(text[i + 1]);
    int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <class Int>
bool parse_number(std::string_view text, Int& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

}  // namespace

Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    return std::string(
        "REDIS_URL must start with redis:// (rediss:// and unix sockets are not "
        "supported)");
  }
  std::string_view rest = url.substr(scheme.size());
  RedisEndpoint out;

  // The path (/db) first: a password may hold a '/', so cut the authority after the '@'.
  auto at = rest.rfind('@');
  std::string_view userinfo;
  if (at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_number(db, out.db) || out.db < 0)) {
      return std::string("REDIS_URL: the database after '/' must be a number 0 or more");
    }
  }

  if (at != std::string_view::npos) {
    if (userinfo.empty() || userinfo.front() != ':') {
      return std::string(
          "REDIS_URL: give the password as redis://:PASSWORD@host (user names "
          "are not supported)");
    }
    auto password = percent_decode(userinfo.substr(1));
    if (!password) return std::string("REDIS_URL: bad %-escape in the password");
    if (password->empty()) return std::string("REDIS_URL: empty password after ':'");
    out.password = std::move(*password);
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("REDIS_URL: unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::string("REDIS_URL: expected ':' after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return std::string("REDIS_URL: empty port after ':'");
    }
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return std::string("REDIS_URL: put an IPv6 host in brackets, as redis://[::1]:6379");
    }
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::string("REDIS_URL: empty port after ':'");
    }
  }
  if (out.host.empty()) return std::string("REDIS_URL: no host");
  for (char c : out.host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return std::string("REDIS_URL: the host has a character a host name cannot have");
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    if (!parse_number(port_text, port) || port == 0 || port > 65535) {
      return std::string("REDIS_URL: the port must be a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace switchboard
