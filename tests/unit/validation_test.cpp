#include "switchboard/api/validation.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace switchboard {
namespace {

using nlohmann::json;

TEST(Validation, UsernameLengthBounds) {
  EXPECT_FALSE(valid_username(""));
  EXPECT_FALSE(valid_username("ab"));
  EXPECT_TRUE(valid_username("abc"));
  EXPECT_TRUE(valid_username(std::string(32, 'a')));
  EXPECT_FALSE(valid_username(std::string(33, 'a')));
}

TEST(Validation, UsernameAcceptsEveryAllowedCharacterClass) {
  EXPECT_TRUE(valid_username("ABCXYZ"));
  EXPECT_TRUE(valid_username("abcxyz"));
  EXPECT_TRUE(valid_username("0123456789"));
  EXPECT_TRUE(valid_username("a_b.c-d"));
  EXPECT_TRUE(valid_username("___"));
  EXPECT_TRUE(valid_username("..."));
  EXPECT_TRUE(valid_username("---"));
}

TEST(Validation, UsernameRejectsOtherCharacters) {
  for (const char* bad : {"ali ce", "alice!", "al@ice", "alice/", "ali+ce", "al:ce", "al\tce",
                          "alice\n", "al%ce", "al'ce", "al\"ce", "al\\ce", "al#ce"}) {
    EXPECT_FALSE(valid_username(bad)) << bad;
  }
  // Letters outside ASCII (UTF-8 for e-acute) are not allowed either.
  EXPECT_FALSE(valid_username("caf\xC3\xA9"));
  // A NUL inside the name.
  EXPECT_FALSE(valid_username(std::string("ab\0cd", 5)));
}

TEST(Validation, PasswordLengthBoundsInBytes) {
  EXPECT_FALSE(valid_password(""));
  EXPECT_FALSE(valid_password(std::string(7, 'x')));
  EXPECT_TRUE(valid_password(std::string(8, 'x')));
  EXPECT_TRUE(valid_password(std::string(128, 'x')));
  EXPECT_FALSE(valid_password(std::string(129, 'x')));
  // Bytes, not characters: four 2-byte characters are 8 bytes.
  EXPECT_TRUE(valid_password("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"));
  // Any byte is allowed, spaces included.
  EXPECT_TRUE(valid_password("pass word !@#$"));
}

TEST(Validation, StringFieldReadsOriginalSpelling) {
  FieldProblem problem = FieldProblem::missing;
  auto v = string_field(json{{"Username", "alice"}}, "Username", "username", problem);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "alice");
}

TEST(Validation, StringFieldReadsLowerCaseAlias) {
  FieldProblem problem = FieldProblem::missing;
  auto v = string_field(json{{"username", "bob"}}, "Username", "username", problem);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "bob");
}

TEST(Validation, StringFieldOriginalSpellingWinsOverAlias) {
  FieldProblem problem = FieldProblem::missing;
  auto v = string_field(json{{"username", "alias"}, {"Username", "original"}}, "Username",
                        "username", problem);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "original");
}

TEST(Validation, StringFieldMissing) {
  FieldProblem problem = FieldProblem::wrong_type;
  auto v = string_field(json{{"Password", "x"}}, "Username", "username", problem);
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(problem, FieldProblem::missing);
}

TEST(Validation, StringFieldOtherCaseIsNotAccepted) {
  FieldProblem problem = FieldProblem::wrong_type;
  auto v = string_field(json{{"USERNAME", "x"}}, "Username", "username", problem);
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(problem, FieldProblem::missing);
}

TEST(Validation, StringFieldWrongType) {
  for (const json& value : {json(42), json(true), json(nullptr), json::array({"a"}),
                            json::object({{"a", "b"}}), json(1.5)}) {
    FieldProblem problem = FieldProblem::missing;
    auto v = string_field(json{{"Username", value}}, "Username", "username", problem);
    EXPECT_FALSE(v.has_value()) << value.dump();
    EXPECT_EQ(problem, FieldProblem::wrong_type) << value.dump();
  }
}

TEST(Validation, StringFieldAliasWithWrongType) {
  FieldProblem problem = FieldProblem::missing;
  auto v = string_field(json{{"new_password", 12345678}}, "NewPassword", "new_password", problem);
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(problem, FieldProblem::wrong_type);
}

TEST(Validation, StringFieldEmptyStringIsAValue) {
  FieldProblem problem = FieldProblem::missing;
  auto v = string_field(json{{"Password", ""}}, "Password", "password", problem);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "");
}

}  // namespace
}  // namespace switchboard
