#pragma once

#include <cstdint>
#include <string>

namespace switchboard {

using UserId = std::uint64_t;

/// Who a request or connection is, once authenticated. `key_hash` names the API key that
/// proved it, so that rotating the key can find and close what that key opened.
struct Identity {
  UserId user_id = 0;
  std::string username;
  std::string key_hash;
};

}  // namespace switchboard
