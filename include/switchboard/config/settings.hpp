#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace switchboard {

/// Every tunable of the daemon, with its default. Each field has one name used three ways:
/// `server_port` in a config file, `SERVER_PORT` in the environment, `--server-port` as a
/// flag. Precedence: flags > environment > config file > defaults.
/// The shortest ADMIN_TOKEN accepted: a shorter one refuses the start.
inline constexpr std::size_t kMinAdminTokenLength = 32;

struct Settings {
  // Process
  std::string server_host = "127.0.0.1";
  std::uint16_t server_port = 8080;
  std::string db_path = "switchboard.db";
  std::string db_url;  // postgresql://... keeps accounts in PostgreSQL instead of db_path
  unsigned db_pool_size = 4;
  // Cluster mode (docs/cluster.md): daemons on one Redis serve as one. Needs db_url.
  std::string redis_url;   // redis://[:PASSWORD@]HOST[:PORT][/DB]; empty: one daemon alone
  std::string node_id;     // this daemon's name in Redis; empty: a random one at start
  unsigned node_ttl = 10;  // seconds without a heartbeat before the others take it for dead
  std::string web_root = "web";
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one JSON object per line
  unsigned io_threads = 0;          // 0: one per core
  unsigned worker_threads = 2;
  unsigned shutdown_grace = 10;  // seconds to finish in-flight work after SIGTERM
  unsigned drain_seconds = 0;    // seconds of 503 on /readyz and new /ws before the shutdown
  std::string metrics_addr;      // HOST:PORT of a separate /metrics listener; empty: the main port
  std::string admin_token;  // bearer token of the admin API (at least 32 characters); empty: off

  // HTTP
  std::size_t http_header_limit = 8192;
  std::size_t http_body_limit = 8192;
  unsigned http_request_timeout = 10;  // seconds to receive a whole request (or the next one)
  std::size_t max_connections = 10000;
  std::size_t max_connections_per_ip = 200;
  std::vector<std::string> trusted_proxies;

  // Accounts and credentials
  std::uint64_t argon2_opslimit = 2;
  std::size_t argon2_memlimit = 19 * 1024 * 1024;  // OWASP's minimum for Argon2id
  std::size_t hash_queue_limit = 64;               // pending Argon2 jobs before 503
  std::size_t credential_cache_size = 200'000;     // API keys held in memory; 0: ask the store
  unsigned ticket_ttl = 30;
  unsigned login_free_failures = 5;  // failures allowed before the lock-out starts
  unsigned login_lockout_base = 1;   // seconds; doubles with each further failure
  unsigned login_lockout_max = 900;

  // ICE servers handed out in Welcome
  std::vector<std::string> stun_urls;
  std::vector<std::string> turn_urls;
  std::string turn_secret;
  unsigned turn_ttl = 86400;
  std::vector<std::string> allowed_origins;

  // Signaling
  std::size_t ws_max_message = 64 * 1024;
  unsigned ws_ping_interval = 20;    // seconds of silence before the server pings
  std::size_t ws_send_queue = 1024;  // queued outbound messages before a reader counts as slow
  unsigned room_default_size = 16;
  unsigned room_max_size = 64;
  unsigned rooms_per_user = 8;
  double rate_limit_per_sec = 100;
  double rate_limit_burst = 500;
  unsigned rate_limit_strikes = 100;
  unsigned resume_window = 30;      // seconds a lost connection's session waits; 0: no resume
  std::size_t resume_buffer = 256;  // messages kept for a resume (and at most 1 MiB)  //
                                    // rate-limited messages (refilling 1/s) before close 1008

  // Webhooks (docs/webhooks.md): on when webhook_url and webhook_secret are both set
  std::string webhook_url;                 // http(s)://HOST[:PORT][/PATH]
  std::string webhook_secret;              // HMAC key, at least kMinWebhookSecret bytes
  std::string webhook_ca_file;             // PEM CAs for an https receiver instead of the system's
  std::size_t webhook_queue_size = 10000;  // events waiting before new ones are dropped
  unsigned webhook_connections = 4;        // to the receiver; a room's events use one of them
  unsigned webhook_timeout = 10;           // seconds for one attempt, answer included
  unsigned webhook_max_attempts = 8;
  unsigned webhook_backoff_ms = 500;  // before the 2nd attempt; doubling (jittered) up to 60 s
};

/// The shortest webhook_secret accepted: 16 bytes (128 bits, if random).
inline constexpr std::size_t kMinWebhookSecret = 16;

/// What parsing the command line produced.
struct HelpRequested {
  std::string text;
};
struct VersionRequested {};
struct SettingsError {
  std::string message;  // one line, names the offending setting
};
using LoadOutcome = std::variant<Settings, HelpRequested, VersionRequested, SettingsError>;

/// Builds Settings from defaults, the file named by `--config` (or CONFIG_FILE), the
/// environment and the flags in `argv`.
LoadOutcome load_settings(int argc, const char* const* argv,
                          const std::map<std::string, std::string>& environment);

/// The process environment as a map, for load_settings.
std::map<std::string, std::string> process_environment();

/// A settings value checked and applied by name (the config-file key). Used by tests.
std::string apply_setting(Settings& settings, const std::string& key, const std::string& value);

}  // namespace switchboard
