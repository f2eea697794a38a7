#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "switchboard/auth/identity.hpp"

namespace switchboard {

struct Settings;

struct TurnCredential {
  std::string username;    // "<unix expiry>:<user id>"
  std::string credential;  // base64(HMAC-SHA1(secret, username))
};

/// Time-limited TURN credentials in the TURN REST API scheme that coturn's
/// `use-auth-secret` checks.
TurnCredential mint_turn_credential(const std::string& secret, UserId user,
                                    std::int64_t expires_unix);

/// The RTCIceServer list for Welcome: one entry for the STUN URLs, one for the TURN URLs
/// (with minted credentials when a secret is set). `now_unix` is the current Unix time.
nlohmann::json ice_servers_for(const Settings& settings, UserId user, std::int64_t now_unix);

}  // namespace switchboard
