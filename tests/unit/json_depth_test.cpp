#include "switchboard/util/json_depth.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard {
namespace {

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonDepth, DefaultLimitIs32Levels) {
  EXPECT_EQ(kMaxJsonDepth, 32u);
  EXPECT_FALSE(json_too_deep(nested_arrays(32)));
  EXPECT_TRUE(json_too_deep(nested_arrays(33)));
}

TEST(JsonDepth, ExplicitLimit) {
  EXPECT_FALSE(json_too_deep("{}", 1));
  EXPECT_FALSE(json_too_deep(R"({"a":1})", 1));
  EXPECT_TRUE(json_too_deep(R"({"a":[]})", 1));
  EXPECT_FALSE(json_too_deep(R"({"a":[]})", 2));
  EXPECT_TRUE(json_too_deep(R"({"a":{"b":[1]}})", 2));
  EXPECT_FALSE(json_too_deep(R"({"a":{"b":[1]}})", 3));
}

TEST(JsonDepth, ScalarsAndEmptyTextAreShallow) {
  EXPECT_FALSE(json_too_deep("", 0));
  EXPECT_FALSE(json_too_deep("42", 0));
  EXPECT_FALSE(json_too_deep(R"("text")", 0));
  EXPECT_TRUE(json_too_deep("[]", 0));
}

TEST(JsonDepth, SiblingsDoNotAddUp) {
  // Four arrays side by side, each two deep: depth 2, not 8.
  EXPECT_FALSE(json_too_deep("[[],[],[],[]]", 2));
  EXPECT_FALSE(json_too_deep(R"({"a":{},"b":{},"c":{}})", 2));
  EXPECT_TRUE(json_too_deep("[[],[[]]]", 2));
}

TEST(JsonDepth, BracketsInsideStringsDoNotCount) {
  EXPECT_FALSE(json_too_deep(R"({"k":"[[[[{{{{"})", 1));
  EXPECT_FALSE(json_too_deep(R"(["]]]]]]", [[]]])", 3));
  EXPECT_FALSE(json_too_deep("[\"" + std::string(100, '[') + "\"]", 1));
}

TEST(JsonDepth, EscapedQuoteDoesNotEndTheString) {
  // The string holds  \"[[[[  : the brackets are still inside it.
  EXPECT_FALSE(json_too_deep(R"(["\"[[[["])", 1));
  EXPECT_FALSE(json_too_deep(R"({"a\"[[[":"\"{{{{"})", 1));
}

TEST(JsonDepth, EscapedBackslashEndsBeforeTheQuote) {
  // "\\" is a complete string (one backslash); the brackets after it are real nesting.
  EXPECT_TRUE(json_too_deep(R"(["\\",[[]]])", 2));
  EXPECT_FALSE(json_too_deep(R"(["\\",[[]]])", 3));
}

TEST(JsonDepth, StrayClosersDoNotBankDepth) {
  // Closing brackets before any opener must not let later nesting go deeper unnoticed.
  EXPECT_TRUE(json_too_deep("]]]]]][[[", 2));
  EXPECT_FALSE(json_too_deep("]]]]]][[", 2));
}

TEST(JsonDepth, UnbalancedInputIsStillBounded) {
  EXPECT_TRUE(json_too_deep(std::string(1000, '['), 32));
  EXPECT_FALSE(json_too_deep(std::string(1000, ']'), 32));
}

// ---- parse_json: nlohmann, with its lenient corners closed ----

using nlohmann::json;

TEST(ParseJson, ReadsOneDocument) {
  auto r = parse_json(R"( {"a":[1,-2,2.5,"s",true,null]} )");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), json::parse(R"({"a":[1,-2,2.5,"s",true,null]})"));
  EXPECT_EQ(parse_json("{} x").error(), JsonError::not_json);
  EXPECT_EQ(parse_json("").error(), JsonError::not_json);
  EXPECT_EQ(parse_json("[1,]").error(), JsonError::not_json);
}

TEST(ParseJson, RefusesANulWhichNlohmannTakesForTheEnd) {
  std::string text = std::string(R"({"msg_type":4})") + '\0' + "garbage";
  EXPECT_TRUE(json::accept(text));  // the pitfall: nlohmann alone stops at the NUL
  EXPECT_EQ(parse_json(text).error(), JsonError::not_json);
  EXPECT_EQ(parse_json(std::string("{}\0", 3)).error(), JsonError::not_json);
  EXPECT_EQ(parse_json(std::string("\"a\0b\"", 5)).error(), JsonError::not_json);
  EXPECT_TRUE(parse_json(R"("a\u0000b")").ok());  // an escaped NUL is fine
}

TEST(ParseJson, RefusesAByteOrderMarkWhichNlohmannSkips) {
  EXPECT_TRUE(json::accept("\xEF\xBB\xBF{}"));
  EXPECT_EQ(parse_json("\xEF\xBB\xBF{}").error(), JsonError::not_json);
}

TEST(ParseJson, NumbersBeyondADoubleAreRefusedBigIntegersKeptAsDoubles) {
  EXPECT_EQ(parse_json("1e999").error(), JsonError::not_json);
  EXPECT_EQ(parse_json("[-1e400]").error(), JsonError::not_json);
  EXPECT_EQ(parse_json("1" + std::string(400, '0')).error(), JsonError::not_json);
  auto tiny = parse_json("1e-400");  // underflows to 0: finite, accepted
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny.value().get<double>(), 0.0);
  auto big = parse_json("18446744073709551616");  // 2^64
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(big.value().is_number_float());
  auto max = parse_json("18446744073709551615");
  ASSERT_TRUE(max.ok());
  EXPECT_TRUE(max.value().is_number_unsigned());
  auto negative = parse_json("-9223372036854775809");
  ASSERT_TRUE(negative.ok());
  EXPECT_TRUE(negative.value().is_number_float());
}

TEST(ParseJson, RefusesLoneSurrogatesAndInvalidUtf8) {
  for (const char* text : {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\ud800x")",
                           "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\"\xff\"", "\"\xe2\x82\""}) {
    EXPECT_EQ(parse_json(text).error(), JsonError::not_json) << text;
  }
  auto pair = parse_json(R"("\ud83d\ude00")");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair.value().get<std::string>(), "\xF0\x9F\x98\x80");
}

TEST(ParseJson, TheLastOfARepeatedKeyIsKept) {
  auto r = parse_json(R"({"k":1,"other":0,"k":2})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value()["k"], 2);
}

TEST(ParseJson, DepthIsBoundedAsTheParserReachesIt) {
  EXPECT_TRUE(parse_json(nested_arrays(32)).ok());
  EXPECT_EQ(parse_json(nested_arrays(33)).error(), JsonError::too_deep);
  EXPECT_EQ(parse_json(R"({"a":{"b":[1]}})", 2).error(), JsonError::too_deep);
  EXPECT_TRUE(parse_json(R"({"a":{"b":[1]}})", 3).ok());
  // The first fault counts: a syntax error before the bound is not JSON.
  EXPECT_EQ(parse_json("[1,]" + std::string(40, '[')).error(), JsonError::not_json);
  EXPECT_EQ(parse_json(std::string(40, '[') + "1,]").error(), JsonError::too_deep);
  // Depth is counted down again on the way out: siblings do not add up.
  std::string siblings = "[";
  for (int i = 0; i < 100; ++i) siblings += (i ? "," : "") + nested_arrays(30);
  EXPECT_TRUE(parse_json(siblings + "]").ok());
}

TEST(ParseJson, AHundredThousandLevelsCostNoRecursion) {
  // Stopped at level 33: the DOM never holds (nor destroys) the deep part.
  EXPECT_EQ(parse_json(std::string(100000, '[')).error(), JsonError::too_deep);
  EXPECT_EQ(parse_json(nested_arrays(100000)).error(), JsonError::too_deep);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  EXPECT_EQ(parse_json(objects).error(), JsonError::too_deep);
}

}  // namespace
}  // namespace switchboard
