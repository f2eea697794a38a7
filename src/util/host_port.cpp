#include "switchboard/util/host_port.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace switchboard {

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  bool v6 = !text.empty() && text.front() == '[';
  if (v6) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;  // no port, or an IPv6 address without brackets
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() ||
      port > 65535) {
    return std::nullopt;
  }
  out.port = static_cast<std::uint16_t>(port);
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1) return std::nullopt;
  return out;
}

}  // namespace switchboard
