#include "switchboard/auth/turn_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "switchboard/config/settings.hpp"
#include "switchboard/util/encoding.hpp"

namespace switchboard {

TurnCredential mint_turn_credential(const std::string& secret, UserId user,
                                    std::int64_t expires_unix) {
  TurnCredential c;
  c.username = std::to_string(expires_unix) + ":" + std::to_string(user);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(c.username.data()), c.username.size(), mac, &mac_len);
  c.credential = base64_encode({mac, mac_len});
  return c;
}

nlohmann::json ice_servers_for(const Settings& settings, UserId user, std::int64_t now_unix) {
  auto servers = nlohmann::json::array();
  if (!settings.stun_urls.empty()) servers.push_back({{"urls", settings.stun_urls}});
  if (!settings.turn_urls.empty()) {
    nlohmann::json turn = {{"urls", settings.turn_urls}};
    if (!settings.turn_secret.empty()) {
      auto c = mint_turn_credential(settings.turn_secret, user, now_unix + settings.turn_ttl);
      turn["username"] = c.username;
      turn["credential"] = c.credential;
    }
    servers.push_back(std::move(turn));
  }
  return servers;
}

}  // namespace switchboard
