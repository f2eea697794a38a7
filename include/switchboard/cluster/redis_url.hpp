#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/util/result.hpp"

namespace switchboard {

/// Where a Redis server is and how to log in, as `REDIS_URL` gives it.
struct RedisEndpoint {
  std::string host;  // a name or an IP literal (IPv6 without brackets)
  std::uint16_t port = 6379;
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT after connecting when not 0
};

/// Parses `redis://[:password@]host[:port][/db]` (the password percent-decoded, IPv6 hosts in
/// brackets, the port 6379 when left out). A bad URL is a one-line message naming what is
/// wrong and never repeating the password.
Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url);

}  // namespace switchboard
