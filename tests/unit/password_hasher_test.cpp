#include "switchboard/auth/password_hasher.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace switchboard {
namespace {

// The cheapest cost libsodium accepts for Argon2id: the tests check behaviour, not strength.
PasswordHasher cheap_hasher() {
  return PasswordHasher(1, 8192);
}

TEST(PasswordHasher, HashIsEncodedArgon2id) {
  auto hasher = cheap_hasher();
  auto encoded = hasher.hash("correct horse battery staple");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->rfind("$argon2id$", 0), 0u) << *encoded;
  // The encoded string records the cost it was made with.
  EXPECT_NE(encoded->find("m=8,t=1"), std::string::npos) << *encoded;
}

TEST(PasswordHasher, VerifyAcceptsTheRightPassword) {
  auto hasher = cheap_hasher();
  auto encoded = hasher.hash("s3cret-password");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_TRUE(hasher.verify("s3cret-password", encoded));
}

TEST(PasswordHasher, VerifyRejectsAWrongPassword) {
  auto hasher = cheap_hasher();
  auto encoded = hasher.hash("s3cret-password");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_FALSE(hasher.verify("s3cret-passwore", encoded));
  EXPECT_FALSE(hasher.verify("S3cret-password", encoded));
  EXPECT_FALSE(hasher.verify("s3cret-password ", encoded));
  EXPECT_FALSE(hasher.verify("", encoded));
}

TEST(PasswordHasher, VerifyUsesEveryByteOfThePassword) {
  auto hasher = cheap_hasher();
  std::string with_nul("pass\0word", 9);
  auto encoded = hasher.hash(with_nul);
  ASSERT_TRUE(encoded.has_value());
  EXPECT_TRUE(hasher.verify(with_nul, encoded));
  EXPECT_FALSE(hasher.verify("pass", encoded));
}

TEST(PasswordHasher, SamePasswordHashesDifferentlyEachTime) {
  auto hasher = cheap_hasher();
  auto a = hasher.hash("same password");
  auto b = hasher.hash("same password");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);  // random salt
  EXPECT_TRUE(hasher.verify("same password", a));
  EXPECT_TRUE(hasher.verify("same password", b));
}

TEST(PasswordHasher, UnknownUserNeverVerifies) {
  auto hasher = cheap_hasher();
  for (const char* pw : {"", "password", "s3cret-password", "anything at all"}) {
    EXPECT_FALSE(hasher.verify(pw, std::nullopt)) << pw;
  }
}

TEST(PasswordHasher, MalformedEncodedHashNeverVerifies) {
  auto hasher = cheap_hasher();
  EXPECT_FALSE(hasher.verify("password", std::string()));
  EXPECT_FALSE(hasher.verify("password", std::string("password")));
  EXPECT_FALSE(hasher.verify("password", std::string("$argon2id$garbage")));
}

TEST(PasswordHasher, EncodedStringNeverContainsThePassword) {
  auto hasher = cheap_hasher();
  const std::string password = "PlainTextMarker-9f3a";
  auto encoded = hasher.hash(password);
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->find(password), std::string::npos);
  EXPECT_EQ(encoded->find("PlainText"), std::string::npos);
}

TEST(PasswordHasher, HashFromOneInstanceVerifiesWithAnother) {
  auto a = cheap_hasher();
  PasswordHasher b(2, 16384);
  auto encoded = a.hash("portable password");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_TRUE(b.verify("portable password", encoded));
}

}  // namespace
}  // namespace switchboard
