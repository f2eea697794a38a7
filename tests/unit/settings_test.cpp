#include "switchboard/config/settings.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <initializer_list>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "support/temp_dir.hpp"

namespace switchboard {
namespace {

using Env = std::map<std::string, std::string>;
using test::TempDir;

LoadOutcome load(std::initializer_list<const char*> flags, const Env& env = {}) {
  std::vector<const char*> argv = {"switchboard"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return load_settings(static_cast<int>(argv.size()), argv.data(), env);
}

Settings expect_settings(const LoadOutcome& outcome) {
  if (const auto* e = std::get_if<SettingsError>(&outcome)) {
    ADD_FAILURE() << "unexpected SettingsError: " << e->message;
    return {};
  }
  EXPECT_TRUE(std::holds_alternative<Settings>(outcome)) << "index " << outcome.index();
  if (const auto* s = std::get_if<Settings>(&outcome)) return *s;
  return {};
}

std::string expect_error(const LoadOutcome& outcome) {
  const auto* e = std::get_if<SettingsError>(&outcome);
  EXPECT_NE(e, nullptr) << "expected a SettingsError, got alternative " << outcome.index();
  return e ? e->message : std::string();
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

TEST(Settings, DefaultsWithNoInput) {
  Settings s = expect_settings(load({}));
  EXPECT_EQ(s.server_host, "127.0.0.1");
  EXPECT_EQ(s.server_port, 8080);
  EXPECT_EQ(s.db_path, "switchboard.db");
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.log_format, "text");
  EXPECT_EQ(s.drain_seconds, 0u);
  EXPECT_EQ(s.ticket_ttl, 30u);
  EXPECT_EQ(s.turn_ttl, 86400u);
  EXPECT_EQ(s.room_default_size, 16u);
  EXPECT_EQ(s.room_max_size, 64u);
  EXPECT_EQ(s.rooms_per_user, 8u);
  EXPECT_TRUE(s.stun_urls.empty());
  EXPECT_TRUE(s.turn_urls.empty());
  EXPECT_TRUE(s.turn_secret.empty());
  EXPECT_TRUE(s.allowed_origins.empty());
  // The rate limit lets a real client burst 500 and sustain 100 per second.
  EXPECT_GE(s.rate_limit_burst, 500.0);
  EXPECT_GE(s.rate_limit_per_sec, 100.0);
}

TEST(Settings, DbUrlMustBeAPostgresqlUri) {
  auto s = expect_settings(load({}, {{"DB_URL", "postgresql://u:p@db.example.org:5432/sb"}}));
  EXPECT_EQ(s.db_url, "postgresql://u:p@db.example.org:5432/sb");
  EXPECT_EQ(expect_settings(load({"--db-url", "postgres://h/db"})).db_url, "postgres://h/db");
  EXPECT_EQ(expect_settings(load({})).db_url, "");
  EXPECT_EQ(expect_settings(load({})).db_pool_size, 4u);
  auto e = expect_error(load({}, {{"DB_URL", "mysql://u:p@h/db"}}));
  EXPECT_NE(e.find("db_url"), std::string::npos) << e;
  EXPECT_NE(expect_error(load({"--db-pool-size", "0"})).find("db_pool_size"), std::string::npos);
  EXPECT_EQ(expect_settings(load({"--credential-cache-size", "0"})).credential_cache_size, 0u);
}

TEST(Settings, UnrelatedEnvironmentIsIgnored) {
  Settings s = expect_settings(load({}, {{"PATH", "/usr/bin"}, {"HOME", "/root"}}));
  EXPECT_EQ(s.server_port, 8080);
}

TEST(Settings, FlagWithSeparateValue) {
  Settings s = expect_settings(load({"--server-port", "9"}));
  EXPECT_EQ(s.server_port, 9);
}

TEST(Settings, FlagWithEqualsValue) {
  Settings s = expect_settings(load({"--server-port=9", "--server-host=0.0.0.0"}));
  EXPECT_EQ(s.server_port, 9);
  EXPECT_EQ(s.server_host, "0.0.0.0");
}

TEST(Settings, PortZeroIsAllowed) {
  Settings s = expect_settings(load({"--server-port", "0"}));
  EXPECT_EQ(s.server_port, 0);
}

TEST(Settings, EnvironmentNames) {
  Settings s = expect_settings(load({}, {{"SERVER_HOST", "0.0.0.0"},
                                         {"SERVER_PORT", "1234"},
                                         {"DB_PATH", "/var/lib/sb.db"},
                                         {"STUN_URLS", "stun:a.example:3478"},
                                         {"TURN_URLS", "turn:t.example:3478"},
                                         {"TURN_SECRET", "s3"},
                                         {"TURN_TTL", "600"},
                                         {"ALLOWED_ORIGINS", "https://a.example"},
                                         {"LOG_LEVEL", "debug"}}));
  EXPECT_EQ(s.server_host, "0.0.0.0");
  EXPECT_EQ(s.server_port, 1234);
  EXPECT_EQ(s.db_path, "/var/lib/sb.db");
  EXPECT_EQ(s.stun_urls, std::vector<std::string>{"stun:a.example:3478"});
  EXPECT_EQ(s.turn_urls, std::vector<std::string>{"turn:t.example:3478"});
  EXPECT_EQ(s.turn_secret, "s3");
  EXPECT_EQ(s.turn_ttl, 600u);
  EXPECT_EQ(s.allowed_origins, std::vector<std::string>{"https://a.example"});
  EXPECT_EQ(s.log_level, "debug");
}

TEST(Settings, ConfigFileKeysCommentsAndQuotes) {
  TempDir dir;
  auto path = write_file(dir, "switchboard.conf",
                         "# a comment line\n"
                         "\n"
                         "server_port = 4321   # trailing comment\n"
                         "  server_host=0.0.0.0\n"
                         "db_path = \"/tmp/with space.db\"\n"
                         "turn_urls = turn:a.example:3478, turns:b.example:5349\n"
                         "turn_secret = \"quoted secret\"\n");
  Settings s = expect_settings(load({"--config", path.c_str()}));
  EXPECT_EQ(s.server_port, 4321);
  EXPECT_EQ(s.server_host, "0.0.0.0");
  EXPECT_EQ(s.db_path, "/tmp/with space.db");
  EXPECT_EQ(s.turn_urls, (std::vector<std::string>{"turn:a.example:3478", "turns:b.example:5349"}));
  EXPECT_EQ(s.turn_secret, "quoted secret");
}

TEST(Settings, ConfigFileFromEnvironment) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "server_port = 1111\n");
  Settings s = expect_settings(load({}, {{"CONFIG_FILE", path}}));
  EXPECT_EQ(s.server_port, 1111);
}

TEST(Settings, EnvironmentBeatsFile) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "server_port = 1111\ndb_path = file.db\n");
  Settings s = expect_settings(load({"--config", path.c_str()}, {{"SERVER_PORT", "2222"}}));
  EXPECT_EQ(s.server_port, 2222);
  EXPECT_EQ(s.db_path, "file.db");  // not overridden
}

TEST(Settings, FlagsBeatEnvironmentAndFile) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "server_port = 1111\nlog_level = warn\n");
  Settings s = expect_settings(load({"--config", path.c_str(), "--server-port", "3333"},
                                    {{"SERVER_PORT", "2222"}, {"LOG_LEVEL", "error"}}));
  EXPECT_EQ(s.server_port, 3333);
  EXPECT_EQ(s.log_level, "error");  // environment beats file; no flag for it
}

TEST(Settings, FlagOrderDoesNotLetTheFileWin) {
  // --config after the flag: the flag still wins over the file.
  TempDir dir;
  auto path = write_file(dir, "c.conf", "server_port = 1111\n");
  Settings s = expect_settings(load({"--server-port=3333", "--config", path.c_str()}));
  EXPECT_EQ(s.server_port, 3333);
}

TEST(Settings, InvalidFlagValueNamesTheSetting) {
  for (const char* bad : {"70000", "-1", "abc", "", "80x", "1.5"}) {
    std::string message = expect_error(load({"--server-port", bad}));
    EXPECT_NE(message.find("server_port"), std::string::npos) << bad << ": " << message;
  }
}

TEST(Settings, InvalidEnvironmentValueNamesTheSetting) {
  std::string message = expect_error(load({}, {{"SERVER_PORT", "http"}}));
  EXPECT_NE(message.find("SERVER_PORT"), std::string::npos) << message;
  message = expect_error(load({}, {{"LOG_LEVEL", "loud"}}));
  EXPECT_NE(message.find("log_level"), std::string::npos) << message;
}

TEST(Settings, InvalidFileValueNamesTheSettingAndLine) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "# ok\nserver_port = 99999\n");
  std::string message = expect_error(load({"--config", path.c_str()}));
  EXPECT_NE(message.find("server_port"), std::string::npos) << message;
  EXPECT_NE(message.find(":2"), std::string::npos) << message;
}

TEST(Settings, UnknownFileKeyIsAnError) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "no_such_setting = 1\n");
  std::string message = expect_error(load({"--config", path.c_str()}));
  EXPECT_NE(message.find("no_such_setting"), std::string::npos) << message;
}

TEST(Settings, FileLineWithoutEqualsIsAnError) {
  TempDir dir;
  auto path = write_file(dir, "c.conf", "server_port 80\n");
  expect_error(load({"--config", path.c_str()}));
}

TEST(Settings, MissingConfigFileIsAnError) {
  TempDir dir;
  std::string missing = dir.file("missing.conf");
  std::string message = expect_error(load({"--config", missing.c_str()}));
  EXPECT_NE(message.find("missing.conf"), std::string::npos) << message;
}

TEST(Settings, UnknownFlagIsAnError) {
  std::string message = expect_error(load({"--no-such-flag", "1"}));
  EXPECT_NE(message.find("--no-such-flag"), std::string::npos) << message;
  message = expect_error(load({"--no-such-flag=1"}));
  EXPECT_NE(message.find("no-such-flag"), std::string::npos) << message;
}

TEST(Settings, PositionalArgumentIsAnError) {
  expect_error(load({"serve"}));
}

TEST(Settings, FlagWithoutValueIsAnError) {
  std::string message = expect_error(load({"--server-port"}));
  EXPECT_NE(message.find("--server-port"), std::string::npos) << message;
}

TEST(Settings, HelpListsTheFlags) {
  auto outcome = load({"--help"});
  const auto* help = std::get_if<HelpRequested>(&outcome);
  ASSERT_NE(help, nullptr);
  EXPECT_NE(help->text.find("--server-port"), std::string::npos);
  EXPECT_NE(help->text.find("SERVER_PORT"), std::string::npos);
  EXPECT_NE(help->text.find("--turn-secret"), std::string::npos);
  EXPECT_NE(help->text.find("--config"), std::string::npos);
}

TEST(Settings, HelpWinsOverBadFlagsAfterIt) {
  EXPECT_TRUE(std::holds_alternative<HelpRequested>(load({"--help", "--server-port", "x"})));
}

TEST(Settings, VersionRequested) {
  EXPECT_TRUE(std::holds_alternative<VersionRequested>(load({"--version"})));
}

TEST(Settings, StunUrlsAreSplitAndTrimmed) {
  Settings s = expect_settings(load({"--stun-urls", " stun:a.example:3478 ,stuns:b.example ,"}));
  EXPECT_EQ(s.stun_urls, (std::vector<std::string>{"stun:a.example:3478", "stuns:b.example"}));
}

TEST(Settings, StunUrlsRejectOtherSchemes) {
  for (const char* bad : {"turn:a.example", "http://a.example", "a.example:3478",
                          "stun:ok.example,https://bad.example", "STUNX:a"}) {
    std::string message = expect_error(load({}, {{"STUN_URLS", bad}}));
    EXPECT_NE(message.find("stun_urls"), std::string::npos) << bad << ": " << message;
  }
}

TEST(Settings, TurnUrlsRejectOtherSchemes) {
  std::string message = expect_error(load({"--turn-urls", "stun:a.example"}));
  EXPECT_NE(message.find("turn_urls"), std::string::npos) << message;
  Settings s = expect_settings(load({"--turn-urls", "turn:a.example,turns:b.example:5349"}));
  EXPECT_EQ(s.turn_urls.size(), 2u);
}

TEST(Settings, RoomDefaultSizeAboveMaxIsRejected) {
  std::string message = expect_error(load({"--room-default-size", "65", "--room-max-size", "64"}));
  EXPECT_NE(message.find("room_default_size"), std::string::npos) << message;
  // Lowering only the cap below the default is rejected too.
  message = expect_error(load({"--room-max-size", "8"}));
  EXPECT_NE(message.find("room_default_size"), std::string::npos) << message;
  // Equal is fine.
  Settings s = expect_settings(load({"--room-default-size", "64", "--room-max-size", "64"}));
  EXPECT_EQ(s.room_default_size, 64u);
}

TEST(Settings, TurnSecretWithoutTurnUrlsIsRejected) {
  std::string message = expect_error(load({}, {{"TURN_SECRET", "s3cret"}}));
  EXPECT_NE(message.find("turn_secret"), std::string::npos) << message;
  Settings s = expect_settings(
      load({}, {{"TURN_SECRET", "s3cret"}, {"TURN_URLS", "turn:turn.example:3478"}}));
  EXPECT_EQ(s.turn_secret, "s3cret");
}

TEST(Settings, AnAdminTokenUnder32CharactersIsRefusedWithoutBeingRepeated) {
  Settings off = expect_settings(load({}));
  EXPECT_TRUE(off.admin_token.empty());
  const std::string short_token(31, 'k');
  std::string message = expect_error(load({}, {{"ADMIN_TOKEN", short_token}}));
  EXPECT_NE(message.find("admin_token"), std::string::npos) << message;
  EXPECT_NE(message.find("32"), std::string::npos) << message;
  EXPECT_EQ(message.find(short_token), std::string::npos) << "a secret in the error: " << message;
  Settings s = expect_settings(load({"--admin-token", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"}));
  EXPECT_EQ(s.admin_token, std::string(32, 'k'));
}

TEST(Settings, ApplySettingByName) {
  Settings s;
  EXPECT_EQ(apply_setting(s, "server_port", "9"), "");
  EXPECT_EQ(s.server_port, 9);
  std::string why = apply_setting(s, "server_port", "65536");
  EXPECT_NE(why.find("server_port"), std::string::npos) << why;
  EXPECT_EQ(s.server_port, 9);  // unchanged on error
  EXPECT_NE(apply_setting(s, "bogus", "1"), "");
}

TEST(Settings, DrainSecondsFromEachSourceAndBounded) {
  EXPECT_EQ(expect_settings(load({}, {{"DRAIN_SECONDS", "15"}})).drain_seconds, 15u);
  EXPECT_EQ(expect_settings(load({"--drain-seconds", "7"})).drain_seconds, 7u);
  Settings s;
  EXPECT_EQ(apply_setting(s, "drain_seconds", "3600"), "");
  EXPECT_EQ(s.drain_seconds, 3600u);
  for (const char* bad : {"-1", "3601", "1.5", "soon", ""}) {
    auto why = expect_error(load({}, {{"DRAIN_SECONDS", bad}}));
    EXPECT_NE(why.find("drain_seconds"), std::string::npos) << bad << ": " << why;
  }
}

TEST(Settings, LogFormatIsTextOrJson) {
  EXPECT_EQ(expect_settings(load({}, {{"LOG_FORMAT", "json"}})).log_format, "json");
  EXPECT_EQ(expect_settings(load({"--log-format", "text"}, {{"LOG_FORMAT", "json"}})).log_format,
            "text");
  for (const char* bad : {"JSON", "logfmt", ""}) {
    auto why = expect_error(load({}, {{"LOG_FORMAT", bad}}));
    EXPECT_NE(why.find("log_format"), std::string::npos) << bad << ": " << why;
  }
}

TEST(Settings, RateLimitAcceptsFractionsAndRejectsNonsense) {
  Settings s = expect_settings(load({"--rate-limit-per-sec", "0.5", "--rate-limit-burst", "20"}));
  EXPECT_DOUBLE_EQ(s.rate_limit_per_sec, 0.5);
  EXPECT_DOUBLE_EQ(s.rate_limit_burst, 20.0);
  expect_error(load({"--rate-limit-per-sec", "fast"}));
  expect_error(load({"--rate-limit-per-sec", "nan"}));
  expect_error(load({"--rate-limit-per-sec", "0"}));
}

}  // namespace
}  // namespace switchboard

namespace switchboard {
namespace {

TEST(Settings, QuotedFileValueMayHoldAHash) {
  TempDir dir;
  auto path = write_file(dir, "sb.conf",
                         "turn_urls = turn:t.example:3478\n"
                         "turn_secret = \"s3cr#t with spaces\"   # a comment after it\n");
  Settings s = expect_settings(load({"--config", path.c_str()}));
  EXPECT_EQ(s.turn_secret, "s3cr#t with spaces");
}

TEST(Settings, UnterminatedOrTrailingQuoteIsAnError) {
  TempDir dir;
  auto open = write_file(dir, "a.conf", "turn_secret = \"never closed\n");
  EXPECT_NE(expect_error(load({"--config", open.c_str()})).find("a.conf:1"), std::string::npos);
  auto trailing = write_file(dir, "b.conf", "turn_secret = \"x\" y\n");
  EXPECT_NE(expect_error(load({"--config", trailing.c_str()})).find("b.conf:1"), std::string::npos);
}

TEST(Settings, MetricsAddrTakesHostAndPortFromEveryLayer) {
  EXPECT_EQ(expect_settings(load({})).metrics_addr, "");
  EXPECT_EQ(expect_settings(load({}, {{"METRICS_ADDR", "127.0.0.1:9100"}})).metrics_addr,
            "127.0.0.1:9100");
  EXPECT_EQ(expect_settings(load({"--metrics-addr", "[::1]:0"})).metrics_addr, "[::1]:0");
  TempDir dir;
  auto file = write_file(dir, "m.conf", "metrics_addr = 0.0.0.0:9100\n");
  EXPECT_EQ(expect_settings(load({"--config", file.c_str()})).metrics_addr, "0.0.0.0:9100");
  // Empty turns it off again (a flag over a file).
  EXPECT_EQ(expect_settings(load({"--config", file.c_str(), "--metrics-addr="})).metrics_addr, "");
}

TEST(Settings, MetricsAddrRejectsWhatIsNotHostAndPort) {
  for (const char* bad : {"9100", "localhost:9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
                          "127.0.0.1:9x", "::1:9100", "[::1]9100", "[::1", "1.2.3:80", ":9100"}) {
    auto e = expect_error(load({"--metrics-addr", bad}));
    EXPECT_NE(e.find("metrics_addr"), std::string::npos) << bad << ": " << e;
  }
}

TEST(Settings, WebhooksNeedAUrlAndASecretTogether) {
  const char* secret = "0123456789abcdef";  // 16 bytes: the minimum
  auto s = expect_settings(load({}, {{"WEBHOOK_URL", "https://hooks.example.com/sb"},
                                     {"WEBHOOK_SECRET", secret},
                                     {"WEBHOOK_CA_FILE", "/etc/ca.pem"},
                                     {"WEBHOOK_CONNECTIONS", "2"},
                                     {"WEBHOOK_QUEUE_SIZE", "50"},
                                     {"WEBHOOK_TIMEOUT", "3"},
                                     {"WEBHOOK_MAX_ATTEMPTS", "4"},
                                     {"WEBHOOK_BACKOFF_MS", "100"}}));
  EXPECT_EQ(s.webhook_url, "https://hooks.example.com/sb");
  EXPECT_EQ(s.webhook_secret, secret);
  EXPECT_EQ(s.webhook_ca_file, "/etc/ca.pem");
  EXPECT_EQ(s.webhook_connections, 2u);
  EXPECT_EQ(s.webhook_queue_size, 50u);
  EXPECT_EQ(s.webhook_timeout, 3u);
  EXPECT_EQ(s.webhook_max_attempts, 4u);
  EXPECT_EQ(s.webhook_backoff_ms, 100u);
  auto off = expect_settings(load({}));
  EXPECT_TRUE(off.webhook_url.empty() && off.webhook_secret.empty());

  EXPECT_NE(expect_error(load({}, {{"WEBHOOK_URL", "http://127.0.0.1:9/"}})).find("webhook_url"),
            std::string::npos);
  EXPECT_NE(expect_error(load({}, {{"WEBHOOK_SECRET", secret}})).find("webhook_secret"),
            std::string::npos);
  EXPECT_NE(expect_error(load({}, {{"WEBHOOK_CA_FILE", "/ca.pem"}})).find("webhook_ca_file"),
            std::string::npos);
}

TEST(Settings, WebhookUrlAndSecretRefusalsNeverRepeatTheValue) {
  auto bad_url = expect_error(load({}, {{"WEBHOOK_URL", "ftp://hooks.example.com/?token=T0KEN"},
                                        {"WEBHOOK_SECRET", "0123456789abcdef"}}));
  EXPECT_NE(bad_url.find("webhook_url"), std::string::npos) << bad_url;
  EXPECT_EQ(bad_url.find("T0KEN"), std::string::npos) << bad_url;
  auto short_secret = expect_error(
      load({}, {{"WEBHOOK_URL", "http://127.0.0.1:9/"}, {"WEBHOOK_SECRET", "s3cr3t-15-bytes"}}));
  EXPECT_NE(short_secret.find("at least 16 bytes"), std::string::npos) << short_secret;
  EXPECT_EQ(short_secret.find("s3cr3t"), std::string::npos) << short_secret;
}

}  // namespace
}  // namespace switchboard

namespace switchboard {
namespace {

TEST(Settings, ClusterModeNeedsAValidRedisUrlAndPostgres) {
  const char* pg = "postgresql://sb:pw@127.0.0.1:5432/sb";
  auto s = expect_settings(load({}, {{"REDIS_URL", "redis://:s3cret@127.0.0.1:6380/2"},
                                     {"DB_URL", pg},
                                     {"NODE_ID", "node-a.1"},
                                     {"NODE_TTL", "5"}}));
  EXPECT_EQ(s.redis_url, "redis://:s3cret@127.0.0.1:6380/2");
  EXPECT_EQ(s.node_id, "node-a.1");
  EXPECT_EQ(s.node_ttl, 5u);
  auto alone = expect_settings(load({}));
  EXPECT_TRUE(alone.redis_url.empty() && alone.node_id.empty());
  EXPECT_EQ(alone.node_ttl, 10u);

  // With SQLite: refused in one line that says why and what to set.
  auto sqlite = expect_error(load({}, {{"REDIS_URL", "redis://127.0.0.1:6379"}}));
  EXPECT_NE(sqlite.find("redis_url"), std::string::npos) << sqlite;
  EXPECT_NE(sqlite.find("db_url"), std::string::npos) << sqlite;
  EXPECT_EQ(sqlite.find('\n'), std::string::npos) << sqlite;
  // A bad URL names the setting and never repeats the password.
  auto bad =
      expect_error(load({}, {{"REDIS_URL", "rediss://:T0PSECRET@host:99999"}, {"DB_URL", pg}}));
  EXPECT_NE(bad.find("redis_url"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("T0PSECRET"), std::string::npos) << bad;
  for (const std::string& id : {std::string("a:b"), std::string("has space"),
                                std::string("\xc3\xa9"), std::string(65, 'x')}) {
    auto e = expect_error(
        load({}, {{"REDIS_URL", "redis://127.0.0.1"}, {"DB_URL", pg}, {"NODE_ID", id}}));
    EXPECT_NE(e.find("node_id"), std::string::npos) << id << ": " << e;
  }
  EXPECT_NE(expect_error(load({}, {{"NODE_ID", "a"}})).find("node_id"), std::string::npos);
  EXPECT_NE(expect_error(
                load({}, {{"REDIS_URL", "redis://127.0.0.1"}, {"DB_URL", pg}, {"NODE_TTL", "0"}}))
                .find("node_ttl"),
            std::string::npos);
}

}  // namespace
}  // namespace switchboard
