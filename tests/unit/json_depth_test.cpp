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

}  // namespace
}  // namespace switchboard
