#pragma once

#include <string>
#include <string_view>

namespace switchboard {

/// An API key as handed to its owner once: 32 CSPRNG bytes as 43 base64url characters.
std::string generate_api_key();

/// What the store keeps and looks keys up by: SHA-256 of the key (32 raw bytes in a string).
/// A fast hash is right here: the key carries 256 bits of entropy, so nothing is gained by
/// stretching it, and every /ws connection pays for the lookup.
std::string hash_api_key(std::string_view key);

/// True when `key` has the shape of one of our keys (cheap check before any lookup).
bool plausible_api_key(std::string_view key);

}  // namespace switchboard
