#include "switchboard/util/json_scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchboard/util/json_depth.hpp"

namespace switchboard::json_scan {
namespace {

/// The full parse's verdict (nlohmann, through parse_json): valid() must agree with it.
bool full_parse_accepts(std::string_view text, std::size_t max_depth) {
  return parse_json(text, max_depth).ok();
}

std::string long_sdp_string() {
  std::string s = "\"";
  for (int i = 0; i < 200; ++i) s += "a=rtpmap:" + std::to_string(i) + " VP8/90000\\r\\n";
  return s + "\"";
}

TEST(JsonScan, AgreesWithTheFullParseOnEveryCase) {
  const std::vector<std::string> cases = {
      // values of every kind, and whitespace around them
      "{}",
      "[]",
      "1",
      "-0",
      "0.5",
      "1e10",
      "1E-2",
      "-1.25e+3",
      "1e400",
      "-1e400",
      "1e-400",
      "1.7976931348623157e308",
      "1.7976931348623159e308",
      "0.00000000000000000000000000000001e330",
      "1e0000000000000000000000000000000000000000000000000000000000001",
      "1" + std::string(308, '0'),
      "1" + std::string(309, '0'),
      "-1" + std::string(400, '0') + ".5e-390",
      "18446744073709551616",
      "-9223372036854775809",
      "true",
      "false",
      "null",
      "\"\"",
      " \t\r\n{ } \n",
      "[1, 2 ,3]",
      "{\"a\":1,\"b\":[true,null,{}]}",
      // numbers the grammar refuses
      "01",
      "1.",
      ".5",
      "-",
      "+1",
      "1e",
      "1e+",
      "--1",
      "0x10",
      "NaN",
      "Infinity",
      "1.5.2",
      // structure
      "",
      " ",
      "{",
      "}",
      "[1,]",
      "{\"a\":1,}",
      "{,}",
      "{\"a\" 1}",
      "{\"a\":}",
      "{1:2}",
      "[1 2]",
      "{} {}",
      "1 2",
      "{\"a\":1}x",
      "[",
      "[[]",
      "{\"a\":{}",
      "tru",
      "nul",
      "falsey",
      "// comment\n{}",
      "{/*c*/}",
      // what nlohmann alone would let through: a NUL after the value, a byte order mark
      std::string("{}\0", 3),
      std::string("{\"a\":1}\0garbage", 15),
      std::string("[1,\0]", 6),
      "\xEF\xBB\xBF{}",
      " \xEF\xBB\xBF{}",
      // strings and escapes
      "\"abc\"",
      "\"a\\\"b\"",
      "\"\\\\\"",
      "\"\\/\\b\\f\\n\\r\\t\"",
      "\"\\u0041\\u00e9\"",
      "\"\\u0000\"",
      "\"\\uD83D\\uDE00\"",
      "\"\\ud800\"",
      "\"\\udc00\"",
      "\"\\ud800\\u0041\"",
      "\"\\ud800x\"",
      "\"\\uD83D\\uD83D\"",
      "\"\\u12\"",
      "\"\\u12G4\"",
      "\"\\x41\"",
      "\"\\a\"",
      "\"\\",
      "\"abc",
      "\"a\tb\"",
      "\"a\nb\"",
      std::string("\"a\0b\"", 5),
      "\"\x7f\"",
      "\"\\\\\\\"\"",
      "\"\\\\\\\\\"",
      "\"ends with backslash\\\"",
      // UTF-8: well-formed, then overlong, surrogate, out of range, truncated, stray
      "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"",
      "\"\xc0\xaf\"",
      "\"\xe0\x80\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "\"\xe2\x82\"",
      "\"\x80\"",
      "\"\xff\"",
      "[\xc3\xa9]",
      // long strings, so the 16-byte blocks meet escapes, quotes and bytes at every offset
      long_sdp_string(),
      "[" + long_sdp_string() + "," + long_sdp_string() + "]",
      "\"" + std::string(40, 'x') + "\\\\\\\\" + std::string(40, 'y') + "\"",
      "\"" + std::string(15, 'x') + "\\n" + std::string(40, 'y') + "\"",
      "\"" + std::string(15, 'x') + "\\\"" + std::string(40, 'y') + "\"",
      "\"" + std::string(15, 'x') + "\\q" + std::string(40, 'y') + "\"",
      "\"" + std::string(16, 'x') + "\\u0041" + std::string(40, 'y') + "\"",
      "\"" + std::string(20, 'x') + "\x01" + std::string(40, 'y') + "\"",
      "\"" + std::string(20, 'x') + "\xc3\xa9" + std::string(40, 'y') + "\"",
      "\"" + std::string(20, 'x') + "\xc3" + std::string(40, 'y') + "\"",
      "\"" + std::string(20, 'x') + "\\\"" + "\"" + std::string(40, 'y') + "\"",
      "\"" + std::string(14, 'x') + "\\\\\\n" + std::string(40, 'y') + "\"",
  };
  for (const auto& text : cases) {
    EXPECT_EQ(valid(text, 32), full_parse_accepts(text, 32)) << "[" << text << "]";
  }
  // Every offset of an escape, a quote or a control character against the block boundaries.
  // Against the 16-byte blocks, at the start, the middle and the end of a string.
  for (std::size_t pad = 0; pad < 72; ++pad) {
    for (std::string inner : {"\\r\\n", "\\\"", "\\\\", "\\u00e9", "\x1f", "\\z", "\xc3\xa9"}) {
      for (std::size_t tail : {0u, 1u, 15u, 16u, 30u, 31u, 32u, 33u, 70u}) {
        std::string text = "[\"" + std::string(pad, 'a') + inner + std::string(tail, 'b') + "\"]";
        EXPECT_EQ(valid(text, 32), full_parse_accepts(text, 32)) << "[" << text << "]";
      }
    }
  }
}

TEST(JsonScan, RefusesExactlyTheNumbersThatOverflowADouble) {
  // Whatever the exponent's length: only the value counts, as nlohmann reads it (strtod).
  EXPECT_TRUE(valid("1e-0000000000999999999", 32));
  EXPECT_TRUE(valid("0.0e99999999999999999999", 32));
  EXPECT_TRUE(valid("1.7976931348623157e308", 32));  // the largest double
  EXPECT_FALSE(valid("1.7976931348623159e308", 32));  // rounds to infinity
  EXPECT_FALSE(valid("1e999999999", 32));
  EXPECT_FALSE(valid("111e40084467440737095516150", 32));  // fuzz regression ten-digit-exponent
  EXPECT_FALSE(full_parse_accepts("111e40084467440737095516150", 32));
  EXPECT_FALSE(full_parse_accepts("1e999999999", 32));
}

TEST(JsonScan, DepthIsBoundedLikeTheFullParse) {
  for (std::size_t depth = 1; depth <= 6; ++depth) {
    for (std::size_t max = 1; max <= 5; ++max) {
      std::string arrays = std::string(depth, '[') + std::string(depth, ']');
      std::string objects;
      for (std::size_t i = 0; i < depth; ++i) objects += "{\"k\":";
      objects += "1" + std::string(depth, '}');
      EXPECT_EQ(valid(arrays, max), full_parse_accepts(arrays, max)) << arrays << " max " << max;
      EXPECT_EQ(valid(objects, max), full_parse_accepts(objects, max)) << objects << " max " << max;
    }
  }
}

TEST(JsonScan, OutlineListsOuterMembersBeforeTheirHolder) {
  Outline outline;
  ASSERT_TRUE(
      valid(R"( {"a":1, "p":{"x":"s","o":{"deep":{"deeper":2}}}, "q":[{"in":1}]} )", 32, &outline));
  ASSERT_TRUE(outline.complete);
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < outline.size; ++i) {
    const auto& m = outline.members[i];
    seen.push_back(std::to_string(m.depth) + ":" + std::string(m.key) + "=" + std::string(m.value));
  }
  // "deeper" sits at depth 4: not recorded. The array under "q" is depth 2, the object in it 3.
  EXPECT_EQ(seen, (std::vector<std::string>{"1:a=1", "2:x=\"s\"", "3:deep={\"deeper\":2}",
                                            "2:o={\"deep\":{\"deeper\":2}}",
                                            "1:p={\"x\":\"s\",\"o\":{\"deep\":{\"deeper\":2}}}",
                                            "3:in=1", "1:q=[{\"in\":1}]"}));
}

TEST(JsonScan, OutlineKeepsKeysAsWritten) {
  Outline outline;
  ASSERT_TRUE(valid(R"({"t\u006f":1,"a\"b":"x"})", 32, &outline));
  ASSERT_EQ(outline.size, 2u);
  EXPECT_EQ(outline.members[0].key, "t\\u006f");
  EXPECT_EQ(outline.members[1].key, "a\\\"b");
  EXPECT_EQ(string_content(outline.members[1].value), "x");
}

TEST(JsonScan, OutlineSaysWhenItIsIncomplete) {
  std::string many = "{";
  for (std::size_t i = 0; i <= Outline::kCapacity; ++i) {
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i);
  }
  many += "}";
  Outline outline;
  ASSERT_TRUE(valid(many, 32, &outline));
  EXPECT_FALSE(outline.complete);
  EXPECT_EQ(outline.size, Outline::kCapacity);
  // The next document starts afresh.
  ASSERT_TRUE(valid("{\"a\":1}", 32, &outline));
  EXPECT_TRUE(outline.complete);
  EXPECT_EQ(outline.size, 1u);
}

}  // namespace
}  // namespace switchboard::json_scan
