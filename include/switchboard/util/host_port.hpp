#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// An address to listen on, as settings give it: "HOST:PORT", "[V6]:PORT" for IPv6.
struct HostPort {
  std::string host;  // an IP address literal, without brackets
  std::uint16_t port = 0;
};

/// Parses `text`; nullopt unless the host is an IPv4 or IPv6 literal and the port 0 to 65535.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace switchboard
