#include "switchboard/auth/api_key.hpp"

#include <sodium.h>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

std::string generate_api_key() {
  return random_token(32);
}

std::string hash_api_key(std::string_view key) {
  std::string digest(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(digest.data()),
                     reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return digest;
}

bool plausible_api_key(std::string_view key) {
  if (key.size() != 43) return false;
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace switchboard
