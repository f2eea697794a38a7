#include "switchboard/auth/turn_credentials.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "switchboard/config/settings.hpp"

namespace switchboard {
namespace {

using nlohmann::json;

// printf '%s' '1700000000:42' | openssl dgst -sha1 -hmac 'secret' -binary | base64
constexpr const char* kExpected_1700000000_42 = "ZzfPuPkrzUOsnm5YISnTiKDnXWo=";
// printf '%s' '1700086400:7' | openssl dgst -sha1 -hmac 'k3y' -binary | base64
constexpr const char* kExpected_1700086400_7 = "uv8b0ke4TaoX6yDyd78yIgzN0lo=";

TEST(TurnCredentials, UsernameIsExpiryColonUser) {
  auto c = mint_turn_credential("secret", 42, 1700000000);
  EXPECT_EQ(c.username, "1700000000:42");
}

TEST(TurnCredentials, CredentialIsBase64HmacSha1OfUsername) {
  EXPECT_EQ(mint_turn_credential("secret", 42, 1700000000).credential, kExpected_1700000000_42);
  EXPECT_EQ(mint_turn_credential("k3y", 7, 1700086400).credential, kExpected_1700086400_7);
}

TEST(TurnCredentials, CredentialDependsOnSecretUserAndExpiry) {
  auto base = mint_turn_credential("secret", 42, 1700000000).credential;
  EXPECT_NE(mint_turn_credential("secreT", 42, 1700000000).credential, base);
  EXPECT_NE(mint_turn_credential("secret", 43, 1700000000).credential, base);
  EXPECT_NE(mint_turn_credential("secret", 42, 1700000001).credential, base);
  // 20 bytes of HMAC-SHA1 are 28 base64 characters with one '=' of padding.
  EXPECT_EQ(base.size(), 28u);
}

TEST(TurnCredentials, NoServersConfiguredGivesEmptyList) {
  Settings s;
  json servers = ice_servers_for(s, 42, 1700000000);
  ASSERT_TRUE(servers.is_array());
  EXPECT_TRUE(servers.empty());
}

TEST(TurnCredentials, StunOnly) {
  Settings s;
  s.stun_urls = {"stun:a.example:3478", "stun:b.example:3478"};
  json servers = ice_servers_for(s, 42, 1700000000);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["urls"], json({"stun:a.example:3478", "stun:b.example:3478"}));
  EXPECT_FALSE(servers[0].contains("username"));
  EXPECT_FALSE(servers[0].contains("credential"));
}

TEST(TurnCredentials, TurnWithoutSecretHasNoCredentials) {
  Settings s;
  s.turn_urls = {"turn:t.example:3478"};
  json servers = ice_servers_for(s, 42, 1700000000);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["urls"], json({"turn:t.example:3478"}));
  EXPECT_FALSE(servers[0].contains("username"));
  EXPECT_FALSE(servers[0].contains("credential"));
}

TEST(TurnCredentials, TurnWithSecretCarriesMintedCredentials) {
  Settings s;
  s.turn_urls = {"turn:t.example:3478", "turns:t.example:5349"};
  s.turn_secret = "secret";
  s.turn_ttl = 86400;
  json servers = ice_servers_for(s, 42, 1700000000 - 86400);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["urls"], json({"turn:t.example:3478", "turns:t.example:5349"}));
  EXPECT_EQ(servers[0]["username"], "1700000000:42");
  EXPECT_EQ(servers[0]["credential"], kExpected_1700000000_42);
}

TEST(TurnCredentials, ExpiryIsNowPlusTtl) {
  Settings s;
  s.turn_urls = {"turn:t.example:3478"};
  s.turn_secret = "k3y";
  s.turn_ttl = 600;
  json servers = ice_servers_for(s, 7, 1700086400 - 600);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["username"], "1700086400:7");
  EXPECT_EQ(servers[0]["credential"], kExpected_1700086400_7);
}

TEST(TurnCredentials, StunAndTurnAreSeparateEntries) {
  Settings s;
  s.stun_urls = {"stun:a.example:3478"};
  s.turn_urls = {"turn:t.example:3478"};
  s.turn_secret = "secret";
  json servers = ice_servers_for(s, 42, 1700000000 - static_cast<std::int64_t>(s.turn_ttl));
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0]["urls"], json({"stun:a.example:3478"}));
  EXPECT_FALSE(servers[0].contains("credential"));
  EXPECT_EQ(servers[1]["urls"], json({"turn:t.example:3478"}));
  EXPECT_EQ(servers[1]["username"], "1700000000:42");
  EXPECT_EQ(servers[1]["credential"], kExpected_1700000000_42);
}

TEST(TurnCredentials, SecretWithoutTurnUrlsMintsNothing) {
  Settings s;
  s.stun_urls = {"stun:a.example:3478"};
  s.turn_secret = "secret";
  json servers = ice_servers_for(s, 42, 1700000000);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_FALSE(servers[0].contains("credential"));
}

}  // namespace
}  // namespace switchboard
