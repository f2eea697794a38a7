#include "switchboard/auth/api_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace switchboard {
namespace {

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

TEST(ApiKey, Is43Base64UrlCharacters) {
  for (int i = 0; i < 100; ++i) {
    std::string key = generate_api_key();
    ASSERT_EQ(key.size(), 43u);
    for (char c : key) ASSERT_TRUE(is_base64url_char(c)) << key;
    EXPECT_EQ(key.find('='), std::string::npos);
  }
}

TEST(ApiKey, KeysAreUnique) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.insert(generate_api_key());
  EXPECT_EQ(keys.size(), 1000u);
}

TEST(ApiKey, HashIs32RawBytes) {
  EXPECT_EQ(hash_api_key(generate_api_key()).size(), 32u);
  EXPECT_EQ(hash_api_key("").size(), 32u);
}

TEST(ApiKey, HashIsSha256OfTheKey) {
  // SHA-256("abc"), FIPS 180-2 test vector.
  const unsigned char expected[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  std::string digest = hash_api_key("abc");
  ASSERT_EQ(digest.size(), sizeof expected);
  for (std::size_t i = 0; i < sizeof expected; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(digest[i]), expected[i]) << "byte " << i;
  }
}

TEST(ApiKey, HashIsDeterministic) {
  std::string key = generate_api_key();
  EXPECT_EQ(hash_api_key(key), hash_api_key(key));
  EXPECT_EQ(hash_api_key(std::string(key)), hash_api_key(key));
}

TEST(ApiKey, HashDiffersPerKey) {
  std::string a = generate_api_key();
  std::string b = generate_api_key();
  ASSERT_NE(a, b);
  EXPECT_NE(hash_api_key(a), hash_api_key(b));
  // One character of difference is enough.
  std::string c = a;
  c[0] = c[0] == 'A' ? 'B' : 'A';
  EXPECT_NE(hash_api_key(a), hash_api_key(c));
}

TEST(ApiKey, HashDoesNotContainTheKey) {
  std::string key = generate_api_key();
  EXPECT_EQ(hash_api_key(key).find(key.substr(0, 8)), std::string::npos);
}

TEST(ApiKey, PlausibleAcceptsGeneratedKeys) {
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(plausible_api_key(generate_api_key()));
  EXPECT_TRUE(plausible_api_key(std::string(43, 'A')));
  EXPECT_TRUE(plausible_api_key(std::string(42, '-') + "_"));
}

TEST(ApiKey, PlausibleRejectsWrongLength) {
  std::string key = generate_api_key();
  EXPECT_FALSE(plausible_api_key(""));
  EXPECT_FALSE(plausible_api_key(key.substr(0, 42)));
  EXPECT_FALSE(plausible_api_key(key + "A"));
  EXPECT_FALSE(plausible_api_key(key + "="));
}

TEST(ApiKey, PlausibleRejectsOtherCharacters) {
  std::string key = generate_api_key();
  for (char bad : {'+', '/', '=', ' ', '.', '%', '\0', '\n'}) {
    std::string k = key;
    k[10] = bad;
    EXPECT_FALSE(plausible_api_key(k)) << static_cast<int>(bad);
  }
}

}  // namespace
}  // namespace switchboard
