#include "switchboard/config/settings.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "switchboard/cluster/redis_url.hpp"
#include "switchboard/ops/webhook_url.hpp"
#include "switchboard/util/host_port.hpp"
#include "switchboard/version.hpp"

extern char** environ;

namespace switchboard {

namespace {

/// One row of the settings table: how to parse and store a value given as text.
struct Option {
  const char* key;
  const char* help;
  // Returns an empty string on success, else why the value is invalid.
  std::function<std::string(Settings&, const std::string&)> apply;
};

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

template <class T>
Option unsigned_option(const char* key, const char* help, T Settings::*field, std::uint64_t min,
                       std::uint64_t max) {
  return {key, help, [field, min, max](Settings& s, const std::string& text) -> std::string {
            std::uint64_t v = 0;
            auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
              return "expected a whole number";
            }
            if (v < min || v > max) {
              return "must be between " + std::to_string(min) + " and " + std::to_string(max);
            }
            s.*field = static_cast<T>(v);
            return {};
          }};
}

Option double_option(const char* key, const char* help, double Settings::*field, double min) {
  return {key, help, [field, min](Settings& s, const std::string& text) -> std::string {
            double v = 0;
            std::istringstream in(text);
            in >> v;
            if (!in || !in.eof() || !std::isfinite(v)) return "expected a number";
            if (v < min) return "must be at least " + std::to_string(min);
            s.*field = v;
            return {};
          }};
}

Option string_option(const char* key, const char* help, std::string Settings::*field,
                     bool allow_empty) {
  return {key, help, [field, allow_empty](Settings& s, const std::string& text) -> std::string {
            if (!allow_empty && text.empty()) return "must not be empty";
            s.*field = text;
            return {};
          }};
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

/// A comma-separated list; `prefixes` (if any) are the accepted URL schemes.
Option list_option(const char* key, const char* help, std::vector<std::string> Settings::*field,
                   std::vector<std::string> prefixes) {
  return {key, help, [field, prefixes](Settings& s, const std::string& text) -> std::string {
            auto items = split_list(text);
            for (const auto& item : items) {
              bool ok = prefixes.empty();
              for (const auto& p : prefixes) ok = ok || item.rfind(p, 0) == 0;
              if (!ok) return "'" + item + "' is not a " + prefixes.front() + " URL";
            }
            s.*field = std::move(items);
            return {};
          }};
}

const std::vector<Option>& options() {
  static const std::vector<Option> table = {
      string_option("server_host", "address to bind (default 127.0.0.1)", &Settings::server_host,
                    false),
      unsigned_option("server_port", "TCP port; 0 picks a free one (default 8080)",
                      &Settings::server_port, 0, 65535),
      string_option("db_path", "SQLite database file (default switchboard.db)", &Settings::db_path,
                    false),
      {"db_url",
       "PostgreSQL URI (postgresql://USER:PASSWORD@HOST:PORT/DB) to keep accounts in "
       "instead of db_path's SQLite file",
       [](Settings& s, const std::string& v) -> std::string {
         if (!v.empty() && !v.starts_with("postgresql://") && !v.starts_with("postgres://")) {
           return "expected a postgresql:// URI";
         }
         s.db_url = v;
         return {};
       }},
      unsigned_option("db_pool_size", "most connections open to db_url's server (default 4)",
                      &Settings::db_pool_size, 1, 1024),
      // Checked in check_consistency, whose errors never repeat the URL (it may hold a
      // password).
      string_option("redis_url",
                    "redis://[:PASSWORD@]HOST[:PORT][/DB]: serve as one with every daemon on "
                    "that Redis (needs db_url)",
                    &Settings::redis_url, true),
      {"node_id", "this daemon's name in the cluster: 1-64 of A-Z a-z 0-9 . _ - (default random)",
       [](Settings& s, const std::string& v) -> std::string {
         bool ok = !v.empty() && v.size() <= 64;
         for (char c : v) {
           ok = ok &&
                (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
         }
         if (!ok) return "expected 1 to 64 of A-Z a-z 0-9 . _ -";
         s.node_id = v;
         return {};
       }},
      unsigned_option("node_ttl",
                      "seconds without a heartbeat before the other daemons take this one for "
                      "dead (default 10)",
                      &Settings::node_ttl, 1, 3600),
      string_option("web_root", "directory of static files served at / (default web)",
                    &Settings::web_root, true),
      {"log_level", "trace, debug, info, warn, error, critical or off (default info)",
       [](Settings& s, const std::string& v) -> std::string {
         static const char* levels[] = {"trace", "debug",    "info", "warn",
                                        "error", "critical", "off"};
         for (const char* l : levels) {
           if (v == l) {
             s.log_level = v;
             return {};
           }
         }
         return "expected trace, debug, info, warn, error, critical or off";
       }},
      {"log_format", "text, or json for one JSON object per line (default text)",
       [](Settings& s, const std::string& v) -> std::string {
         if (v != "text" && v != "json") return "expected text or json";
         s.log_format = v;
         return {};
       }},
      unsigned_option("io_threads", "threads running network I/O; 0 = one per core",
                      &Settings::io_threads, 0, 256),
      unsigned_option("worker_threads", "threads for password hashing and SQLite (default 2)",
                      &Settings::worker_threads, 1, 256),
      unsigned_option("shutdown_grace", "seconds to finish in-flight work on SIGTERM (default 10)",
                      &Settings::shutdown_grace, 0, 3600),
      unsigned_option("drain_seconds",
                      "seconds after SIGTERM during which /readyz and new WebSockets answer 503 "
                      "while the rest keeps serving, before the shutdown (default 0)",
                      &Settings::drain_seconds, 0, 3600),
      {"metrics_addr",
       "HOST:PORT ([V6]:PORT) of a separate listener for /metrics, which the main port then "
       "answers 404; empty serves it on the main port (default)",
       [](Settings& s, const std::string& v) -> std::string {
         if (!v.empty() && !parse_host_port(v)) {
           return "expected HOST:PORT with an IP address, e.g. 127.0.0.1:9100";
         }
         s.metrics_addr = v;
         return {};
       }},
      string_option("admin_token",
                    "bearer token of the admin API (/admin/), at least 32 characters; empty "
                    "turns it off (default)",
                    &Settings::admin_token, true),
      unsigned_option("http_header_limit", "bytes of request headers before 431 (default 8192)",
                      &Settings::http_header_limit, 1024, 1 << 20),
      unsigned_option("http_body_limit", "bytes of request body before 413 (default 8192)",
                      &Settings::http_body_limit, 256, 1 << 20),
      unsigned_option(
          "http_request_timeout",
          "seconds to receive one request, or to wait for the next on a kept-alive connection (10)",
          &Settings::http_request_timeout, 1, 3600),
      unsigned_option("max_connections", "open TCP connections in total (default 10000)",
                      &Settings::max_connections, 1, 10'000'000),
      unsigned_option("max_connections_per_ip", "open TCP connections per client address (200)",
                      &Settings::max_connections_per_ip, 1, 10'000'000),
      list_option("trusted_proxies", "peer addresses whose X-Forwarded-For is believed",
                  &Settings::trusted_proxies, {}),
      unsigned_option("argon2_opslimit", "Argon2id passes (default 2)", &Settings::argon2_opslimit,
                      1, 100),
      unsigned_option("argon2_memlimit", "Argon2id memory in bytes (default 19 MiB)",
                      &Settings::argon2_memlimit, 8192, std::uint64_t{4} << 30),
      unsigned_option("hash_queue_limit", "password hashes queued before 503 (default 64)",
                      &Settings::hash_queue_limit, 1, 1'000'000),
      unsigned_option("credential_cache_size",
                      "API keys kept in memory for authentication; 0 asks the account store "
                      "on every connect (default 200000)",
                      &Settings::credential_cache_size, 0, 100'000'000),
      unsigned_option("ticket_ttl", "seconds a /ws ticket stays valid (default 30)",
                      &Settings::ticket_ttl, 1, 3600),
      unsigned_option("login_free_failures", "wrong passwords before lock-out (default 5)",
                      &Settings::login_free_failures, 1, 1000),
      unsigned_option("login_lockout_base", "first lock-out in seconds, doubling (default 1)",
                      &Settings::login_lockout_base, 1, 86400),
      unsigned_option("login_lockout_max", "longest lock-out in seconds (default 900)",
                      &Settings::login_lockout_max, 1, 86400 * 7),
      list_option("stun_urls", "comma-separated stun: URLs for Welcome", &Settings::stun_urls,
                  {"stun:", "stuns:"}),
      list_option("turn_urls", "comma-separated turn:/turns: URLs for Welcome",
                  &Settings::turn_urls, {"turn:", "turns:"}),
      string_option("turn_secret",
                    "shared secret for minted TURN credentials (coturn "
                    "use-auth-secret)",
                    &Settings::turn_secret, true),
      unsigned_option("turn_ttl", "lifetime of minted TURN credentials, seconds (default 86400)",
                      &Settings::turn_ttl, 60, 86400 * 30),
      list_option("allowed_origins", "comma-separated Origins allowed on /ws; empty allows any",
                  &Settings::allowed_origins, {}),
      unsigned_option("ws_max_message", "largest WebSocket message in bytes (default 65536)",
                      &Settings::ws_max_message, 1024, 16 << 20),
      unsigned_option("ws_ping_interval", "seconds of silence before a ping (default 20)",
                      &Settings::ws_ping_interval, 1, 3600),
      unsigned_option("ws_send_queue", "outbound messages queued per socket (default 1024)",
                      &Settings::ws_send_queue, 1, 1'000'000),
      unsigned_option("room_default_size", "members of a room created without max_members (16)",
                      &Settings::room_default_size, 1, 100000),
      unsigned_option("room_max_size", "largest max_members a client may ask for (default 64)",
                      &Settings::room_max_size, 1, 100000),
      unsigned_option("rooms_per_user", "rooms one user may be in at once (default 8)",
                      &Settings::rooms_per_user, 1, 100000),
      double_option("rate_limit_per_sec", "messages per second per connection (default 100)",
                    &Settings::rate_limit_per_sec, 0.001),
      double_option("rate_limit_burst", "message burst per connection (default 500)",
                    &Settings::rate_limit_burst, 1),
      unsigned_option("rate_limit_strikes", "rate-limited messages before close 1008 (100)",
                      &Settings::rate_limit_strikes, 1, 1'000'000),
      unsigned_option("resume_window",
                      "seconds a session whose connection was lost waits for a resume; 0 turns "
                      "resume off (default 30)",
                      &Settings::resume_window, 0, 3600),
      unsigned_option("resume_buffer",
                      "messages a session keeps for a resume, at most 1 MiB of them (default 256)",
                      &Settings::resume_buffer, 1, 100'000),
      // The URL and the secret are checked in check_consistency, whose errors do not repeat
      // the value: a secret, or a URL with a token in it, stays out of the logs.
      string_option("webhook_url",
                    "http(s)://HOST[:PORT][/PATH] that receives signed event POSTs; needs "
                    "webhook_secret (default: off)",
                    &Settings::webhook_url, true),
      string_option("webhook_secret", "HMAC-SHA256 key signing each webhook, at least 16 bytes",
                    &Settings::webhook_secret, true),
      string_option("webhook_ca_file",
                    "PEM file of the CAs an https webhook receiver's certificate is checked "
                    "against, instead of the system's",
                    &Settings::webhook_ca_file, true),
      unsigned_option("webhook_queue_size",
                      "webhook events queued before new ones are dropped (default 10000)",
                      &Settings::webhook_queue_size, 1, 10'000'000),
      unsigned_option("webhook_connections",
                      "connections to the webhook receiver; a room's events share one, in "
                      "order (default 4)",
                      &Settings::webhook_connections, 1, 64),
      unsigned_option("webhook_timeout",
                      "seconds one webhook attempt may take, answer included (default 10)",
                      &Settings::webhook_timeout, 1, 300),
      unsigned_option("webhook_max_attempts", "attempts per webhook event (default 8)",
                      &Settings::webhook_max_attempts, 1, 100),
      unsigned_option("webhook_backoff_ms",
                      "milliseconds before a webhook's 2nd attempt, doubling (with jitter) up "
                      "to 60 s (default 500)",
                      &Settings::webhook_backoff_ms, 1, 60'000),
  };
  return table;
}

std::string env_name(std::string key) {
  for (char& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return key;
}

std::string flag_name(std::string key) {
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return "--" + key;
}

const Option* find_option(const std::string& key) {
  for (const auto& o : options()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

std::string help_text() {
  std::ostringstream out;
  out << "switchboard " << kVersion << ": a WebRTC signaling daemon\n\n"
      << "Usage: switchboard [--config FILE] [--SETTING VALUE]...\n"
      << "       switchboard accounts copy --from LOCATION --to LOCATION [--replace]\n\n"
      << "Each setting may come from the config file (key = value), the environment (upper\n"
      << "case) or a flag; flags beat environment beats file beats defaults.\n\n"
      << "  --config FILE (CONFIG_FILE)\n      read settings from FILE\n"
      << "  --check-config\n      validate the settings and exit\n"
      << "  --probe\n      GET /healthz from the daemon these settings describe; exit 0 on 200,\n"
      << "      1 otherwise (a container health check)\n"
      << "  --help, --version\n\n";
  for (const auto& o : options()) {
    out << "  " << flag_name(o.key) << " VALUE (" << env_name(o.key) << ")\n      " << o.help
        << "\n";
  }
  return out.str();
}

/// Cross-field checks that no single option can make.
std::string check_consistency(const Settings& s) {
  if (s.room_default_size > s.room_max_size) {
    return "invalid setting room_default_size: must not exceed room_max_size";
  }
  if (!s.turn_secret.empty() && s.turn_urls.empty()) {
    return "invalid setting turn_secret: set turn_urls too";
  }
  if (s.webhook_url.empty() != s.webhook_secret.empty()) {
    return "invalid setting webhook_url/webhook_secret: set both (webhooks on) or neither";
  }
  if (!s.webhook_url.empty() && !parse_webhook_url(s.webhook_url)) {
    return "invalid setting webhook_url: expected http(s)://HOST[:PORT][/PATH]";
  }
  if (!s.webhook_secret.empty() && s.webhook_secret.size() < kMinWebhookSecret) {
    return "invalid setting webhook_secret: must be at least " + std::to_string(kMinWebhookSecret) +
           " bytes";
  }
  if (!s.webhook_ca_file.empty() && s.webhook_url.empty()) {
    return "invalid setting webhook_ca_file: set webhook_url too";
  }
  if (!s.redis_url.empty()) {
    if (auto url = parse_redis_url(s.redis_url); !url) {
      return "invalid setting redis_url: " + url.error();
    }
    // Every daemon must know every account: one SQLite file per daemon cannot be shared.
    if (s.db_url.empty()) {
      return "invalid setting redis_url: a cluster needs one account store for every daemon: "
             "set db_url (PostgreSQL); db_path's SQLite file serves one daemon only";
    }
  }
  if (!s.node_id.empty() && s.redis_url.empty()) {
    return "invalid setting node_id: set redis_url too";
  }
  // Checked here, not in the option: an option's error repeats the value, and this is a
  // secret. Short tokens are guessable; 32 characters of a generator hold enough entropy.
  if (!s.admin_token.empty() && s.admin_token.size() < kMinAdminTokenLength) {
    return "invalid setting admin_token: must be at least " + std::to_string(kMinAdminTokenLength) +
           " characters (it has " + std::to_string(s.admin_token.size()) + ")";
  }
  return {};
}

}  // namespace

std::string apply_setting(Settings& settings, const std::string& key, const std::string& value) {
  const Option* o = find_option(key);
  if (!o) return "unknown setting " + key;
  std::string why = o->apply(settings, value);
  if (!why.empty()) return "invalid setting " + key + " = '" + value + "': " + why;
  return {};
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

LoadOutcome load_settings(int argc, const char* const* argv,
                          const std::map<std::string, std::string>& environment) {
  // Flags are collected first so that --config is known before anything is applied.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  if (auto it = environment.find("CONFIG_FILE"); it != environment.end()) config_file = it->second;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return HelpRequested{help_text()};
    if (arg == "--version" || arg == "-V") return VersionRequested{};
    if (arg.rfind("--", 0) != 0) return SettingsError{"unexpected argument '" + arg + "'"};
    std::string name = arg.substr(2);
    std::string value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return SettingsError{"flag " + arg + " needs a value"};
    }
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    if (name == "config") {
      config_file = value;
    } else if (!find_option(name)) {
      return SettingsError{"unknown flag --" + arg.substr(2, arg.find('=') - 2)};
    } else {
      flags.emplace_back(name, value);
    }
  }

  Settings s;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return SettingsError{"cannot read config file " + config_file};
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::string where = config_file + ":" + std::to_string(number) + ": ";
      std::string text = trim(line);
      if (text.empty() || text.front() == '#') continue;
      auto eq = text.find('=');
      if (eq == std::string::npos) return SettingsError{where + "expected key = value"};
      std::string key = trim(text.substr(0, eq));
      std::string value = trim(text.substr(eq + 1));
      // A quoted value may hold '#' and spaces; otherwise '#' starts a comment.
      if (!value.empty() && value.front() == '"') {
        auto close = value.find('"', 1);
        if (close == std::string::npos) return SettingsError{where + "unterminated quote"};
        std::string rest = trim(value.substr(close + 1));
        if (!rest.empty() && rest.front() != '#') {
          return SettingsError{where + "unexpected text after the quoted value"};
        }
        value = value.substr(1, close - 1);
      } else {
        value = trim(value.substr(0, value.find('#')));
      }
      if (auto why = apply_setting(s, key, value); !why.empty()) return SettingsError{where + why};
    }
  }
  for (const auto& o : options()) {
    if (auto it = environment.find(env_name(o.key)); it != environment.end()) {
      if (auto why = apply_setting(s, o.key, it->second); !why.empty()) {
        return SettingsError{why + " (from " + env_name(o.key) + ")"};
      }
    }
  }
  for (const auto& [key, value] : flags) {
    if (auto why = apply_setting(s, key, value); !why.empty()) {
      return SettingsError{why + " (from " + flag_name(key) + ")"};
    }
  }
  if (auto why = check_consistency(s); !why.empty()) return SettingsError{why};
  return s;
}

}  // namespace switchboard
