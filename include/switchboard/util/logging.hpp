#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace switchboard {

/// How log lines are written: `text` for people reading a terminal or the journal, `json`
/// (one object per line) for log collectors.
enum class LogFormat { text, json };

/// Configures spdlog's default logger: stderr, one line per event, at `level`, in `format`.
/// (Standard output carries only the `listening on` line, which scripts read.) The logger is
/// synchronous: the fields of log_event() reach the formatter on the calling thread.
void init_logging(const std::string& level, LogFormat format = LogFormat::text);

/// One named value of a structured log line: a user id, a client address, a room. It holds a
/// view of its text, so it lives only as long as the log call it is written in.
class LogField {
 public:
  LogField(std::string_view key, std::string_view text) : key_(key), text_(text) {}
  LogField(std::string_view key, const std::string& text) : key_(key), text_(text) {}
  LogField(std::string_view key, const char* text) : key_(key), text_(text) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>)
      LogField(std::string_view key, T number)
      : key_(key), number_(static_cast<std::int64_t>(number)), is_number_(true) {}

  std::string_view key() const { return key_; }
  bool is_number() const { return is_number_; }
  std::int64_t number() const { return number_; }
  std::string_view text() const { return text_; }

 private:
  std::string_view key_;
  std::string_view text_;
  std::int64_t number_ = 0;
  bool is_number_ = false;
};

using LogFields = std::initializer_list<LogField>;

/// Logs `message` with `fields`: in text format they follow the message as ` key=value`, in
/// json format each is a member of the line's object. The message is a fixed sentence; what
/// varies goes into fields, so that a collector can filter on it.
void log_event(spdlog::level::level_enum level, std::string_view message, LogFields fields);

inline void log_debug(std::string_view message, LogFields fields = {}) {
  log_event(spdlog::level::debug, message, fields);
}
inline void log_info(std::string_view message, LogFields fields = {}) {
  log_event(spdlog::level::info, message, fields);
}
inline void log_warn(std::string_view message, LogFields fields = {}) {
  log_event(spdlog::level::warn, message, fields);
}
inline void log_error(std::string_view message, LogFields fields = {}) {
  log_event(spdlog::level::err, message, fields);
}

/// One json-format line, newline included: `{"time", "level", "message", fields...}`, the time
/// in RFC 3339 UTC with milliseconds. Always valid JSON: control characters and quotes are
/// escaped, and bytes that are not UTF-8 become U+FFFD.
std::string json_log_line(std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view message,
                          std::span<const LogField> fields);

/// The text-format rendering of `fields`: ` key=value` each, a value quoted (JSON-style) when
/// it is empty or holds anything beyond letters, digits and `._:/@+-[]`.
std::string text_log_fields(std::span<const LogField> fields);

}  // namespace switchboard
