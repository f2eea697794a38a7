#include "switchboard/cluster/redis_url.hpp"

#include <gtest/gtest.h>

namespace switchboard {
namespace {

TEST(RedisUrl, HostAndPort) {
  auto r = parse_redis_url("redis://127.0.0.1:6380");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().host, "127.0.0.1");
  EXPECT_EQ(r.value().port, 6380);
  EXPECT_EQ(r.value().password, "");
  EXPECT_EQ(r.value().db, 0);
}

TEST(RedisUrl, PortDefaultsTo6379AndNamesResolveLater) {
  auto r = parse_redis_url("redis://redis.internal");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().host, "redis.internal");
  EXPECT_EQ(r.value().port, 6379);
}

TEST(RedisUrl, PasswordAndDatabase) {
  auto r = parse_redis_url("redis://:s3cr%2Ft@x@db.example:7000/5");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().password, "s3cr/t@x");
  EXPECT_EQ(r.value().host, "db.example");
  EXPECT_EQ(r.value().port, 7000);
  EXPECT_EQ(r.value().db, 5);
}

TEST(RedisUrl, BracketedIpv6) {
  auto r = parse_redis_url("redis://[::1]:6390/");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value().host, "::1");
  EXPECT_EQ(r.value().port, 6390);
  EXPECT_EQ(r.value().db, 0);
}

TEST(RedisUrl, BadUrlsSayWhatIsWrongInOneLineWithoutThePassword) {
  const char* bad[] = {
      "",
      "http://127.0.0.1:6379",
      "rediss://127.0.0.1:6379",
      "redis://",
      "redis://:6379",
      "redis://host:",
      "redis://host:0",
      "redis://host:65536",
      "redis://host:63x9",
      "redis://host:6379/x",
      "redis://host:6379/-1",
      "redis://::1:6379",
      "redis://[::1:6379",
      "redis://[::1]6379",
      "redis://user:hunter2@host:6379",
      "redis://:@host:6379",
      "redis://:hunter2%zz@host:6379",
      "redis://ho st:6379",
  };
  for (const char* url : bad) {
    auto r = parse_redis_url(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("REDIS_URL"), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find("hunter2"), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace switchboard
