#include "switchboard/util/logging.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

namespace switchboard {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

json parse_line(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per event";
  return json::parse(line);  // throws (fails the test) on anything but valid JSON
}

TEST(JsonLogLine, HasTimeLevelMessageAndTypedFields) {
  // 2026-12-04T05:02:46.007Z
  auto t = system_clock::time_point(seconds(1796360566) + milliseconds(7));
  std::vector<LogField> fields = {{"user_id", std::uint64_t{42}}, {"remote_addr", "127.0.0.1"}};
  auto j = parse_line(json_log_line(t, spdlog::level::warn, "failed password", fields));
  EXPECT_EQ(j["time"], "2026-12-04T05:02:46.007Z");
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["message"], "failed password");
  EXPECT_EQ(j["user_id"], 42);
  EXPECT_EQ(j["remote_addr"], "127.0.0.1");
  EXPECT_EQ(j.size(), 5u);
}

TEST(JsonLogLine, TimeIsRfc3339UtcWithMilliseconds) {
  auto j = parse_line(json_log_line(system_clock::now(), spdlog::level::info, "x", {}));
  static const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), rfc3339)) << j["time"];
}

TEST(JsonLogLine, EscapesControlCharactersAndQuotes) {
  std::string nasty = "a\"b\\c\nd\re\tf\x01g\x7f";
  std::vector<LogField> fields = {{"username", nasty}};
  auto line = json_log_line(system_clock::now(), spdlog::level::info, nasty, fields);
  auto j = parse_line(line);
  EXPECT_EQ(j["message"], nasty);
  EXPECT_EQ(j["username"], nasty);
}

TEST(JsonLogLine, InvalidUtf8StillGivesValidJson) {
  // Stray, truncated and surrogate bytes.
  std::string bad =
      "bob\xff\xfe\xc3(\xed\xa0\x80"
      "end";
  std::vector<LogField> fields = {{"username", bad}};
  auto j = parse_line(json_log_line(system_clock::now(), spdlog::level::info, bad, fields));
  auto name = j["username"].get<std::string>();
  EXPECT_EQ(name.rfind("bob", 0), 0u) << name;
  EXPECT_NE(name.find("\xEF\xBF\xBD"), std::string::npos) << "bad bytes become U+FFFD";
  EXPECT_NE(name.find("end"), std::string::npos) << name;
  EXPECT_EQ(j["message"], name);
}

TEST(TextLogFields, PlainValuesBareOthersQuoted) {
  std::vector<LogField> fields = {{"user_id", 7},
                                  {"remote_addr", "[::1]:80"},
                                  {"error", "End of file"},
                                  {"username", ""},
                                  {"x", "a\"b\n"}};
  EXPECT_EQ(text_log_fields(fields),
            R"( user_id=7 remote_addr=[::1]:80 error="End of file" username="" x="a\"b\n")");
}

}  // namespace
}  // namespace switchboard
