#include "switchboard/util/encoding.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

TEST(Encoding, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(bytes_of("")), "");
  EXPECT_EQ(base64_encode(bytes_of("f")), "Zg==");
  EXPECT_EQ(base64_encode(bytes_of("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(bytes_of("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(bytes_of("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(bytes_of("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(bytes_of("foobar")), "Zm9vYmFy");
}

TEST(Encoding, Base64UrlMatchesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(bytes_of("")), "");
  EXPECT_EQ(base64url_encode(bytes_of("f")), "Zg");
  EXPECT_EQ(base64url_encode(bytes_of("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(bytes_of("foo")), "Zm9v");
  EXPECT_EQ(base64url_encode(bytes_of("foob")), "Zm9vYg");
  EXPECT_EQ(base64url_encode(bytes_of("fooba")), "Zm9vYmE");
  EXPECT_EQ(base64url_encode(bytes_of("foobar")), "Zm9vYmFy");
}

TEST(Encoding, Base64UrlUsesUrlSafeAlphabet) {
  const std::vector<std::uint8_t> high = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(high), "+/+/");
  EXPECT_EQ(base64url_encode(high), "-_-_");
  const std::vector<std::uint8_t> two = {0xfb, 0xff};
  EXPECT_EQ(base64_encode(two), "+/8=");
  EXPECT_EQ(base64url_encode(two), "-_8");
}

TEST(Encoding, Base64HandlesZeroBytes) {
  const std::vector<std::uint8_t> zeros = {0, 0, 0, 0};
  EXPECT_EQ(base64_encode(zeros), "AAAAAA==");
  EXPECT_EQ(base64url_encode(zeros), "AAAAAA");
}

TEST(Encoding, RandomTokenLengthIsUnpaddedBase64Length) {
  EXPECT_EQ(random_token(1).size(), 2u);
  EXPECT_EQ(random_token(2).size(), 3u);
  EXPECT_EQ(random_token(3).size(), 4u);
  EXPECT_EQ(random_token(16).size(), 22u);
  EXPECT_EQ(random_token(24).size(), 32u);
  EXPECT_EQ(random_token(32).size(), 43u);
}

TEST(Encoding, RandomTokenUsesBase64UrlAlphabetOnly) {
  for (int i = 0; i < 200; ++i) {
    std::string t = random_token(32);
    for (char c : t) ASSERT_TRUE(is_base64url_char(c)) << t;
  }
}

TEST(Encoding, RandomTokensAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(random_token(16));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Encoding, AsciiLowerOnlyTouchesAsciiLetters) {
  EXPECT_EQ(ascii_lower("Alice_Z.9-"), "alice_z.9-");
  EXPECT_EQ(ascii_lower(""), "");
  EXPECT_EQ(ascii_lower("\xC3\x89"), "\xC3\x89");
  EXPECT_EQ(ascii_lower("@[`{"), "@[`{");
}

TEST(Encoding, PercentDecodePlainTextUnchanged) {
  std::string out = "junk";
  ASSERT_TRUE(percent_decode("abc-_.~+/", out));
  EXPECT_EQ(out, "abc-_.~+/");
  ASSERT_TRUE(percent_decode("", out));
  EXPECT_EQ(out, "");
}

TEST(Encoding, PercentDecodeEscapesInBothCases) {
  std::string out;
  ASSERT_TRUE(percent_decode("%41%2f%2F%7e", out));
  EXPECT_EQ(out, "A//~");
  ASSERT_TRUE(percent_decode("a%20b%3Dc", out));
  EXPECT_EQ(out, "a b=c");
  ASSERT_TRUE(percent_decode("%2e%2E", out));
  EXPECT_EQ(out, "..");
  ASSERT_TRUE(percent_decode("%00", out));
  EXPECT_EQ(out, std::string(1, '\0'));
  ASSERT_TRUE(percent_decode("%ff", out));
  EXPECT_EQ(out, std::string(1, '\xff'));
}

TEST(Encoding, PercentDecodeDoesNotDecodeTwice) {
  std::string out;
  ASSERT_TRUE(percent_decode("%252e", out));
  EXPECT_EQ(out, "%2e");
}

TEST(Encoding, PercentDecodeRejectsMalformedEscapes) {
  for (const char* bad :
       {"%", "%4", "abc%", "abc%4", "%zz", "%4g", "%g4", "%%41", "a%-1b", "% 1"}) {
    std::string out;
    EXPECT_FALSE(percent_decode(bad, out)) << bad;
  }
}

TEST(Encoding, ParseDecimalTakesPlainDigitsOnly) {
  EXPECT_EQ(parse_decimal("0"), 0u);
  EXPECT_EQ(parse_decimal("42"), 42u);
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  for (const char* bad :
       {"", "-1", "+1", "1.0", "1e3", " 1", "1 ", "0x1", "18446744073709551616", "abc"}) {
    EXPECT_FALSE(parse_decimal(bad).has_value()) << bad;
  }
}

TEST(Encoding, HexCarriesEveryByteAndRefusesWhatIsNotHex) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  EXPECT_EQ(hex_encode(std::string("\x00\n\xff", 3)), "000aff");
  EXPECT_EQ(hex_decode(hex_encode(every_byte)), every_byte);
  EXPECT_EQ(hex_decode("0AfF"), std::string("\x0a\xff", 2));
  EXPECT_EQ(hex_decode(""), std::string());
  for (const char* bad : {"0", "abc", "zz", "0g", " 00", "00 "}) {
    EXPECT_FALSE(hex_decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace switchboard
