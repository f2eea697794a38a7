#include "switchboard/util/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fmt/chrono.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace switchboard {

namespace {

/// The fields of the log_event() call running on this thread, for the formatter that the
/// (synchronous) logger calls before log_event() returns.
thread_local std::span<const LogField> t_fields;

class FieldScope {
 public:
  explicit FieldScope(std::span<const LogField> fields) { t_fields = fields; }
  ~FieldScope() { t_fields = {}; }
  FieldScope(const FieldScope&) = delete;
  FieldScope& operator=(const FieldScope&) = delete;
};

bool plain(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("._:/@+-[]").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string rfc3339_utc(std::chrono::system_clock::time_point time) {
  auto since = time.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", tm, ms);
}

/// `%*` in the text pattern: the current call's fields.
class TextFieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_fields.empty()) return;
    auto text = text_log_fields(t_fields);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextFieldsFlag>();
  }
};

/// The json format: the whole line is ours, spdlog's pattern plays no part.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto line = json_log_line(msg.time, msg.level,
                              std::string_view(msg.payload.data(), msg.payload.size()), t_fields);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void init_logging(const std::string& level, LogFormat format) {
  std::shared_ptr<spdlog::logger> logger;
  if (format == LogFormat::json) {
    // No colour codes: a collector reads these lines.
    logger = spdlog::stderr_logger_mt("switchboard");
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger = spdlog::stderr_color_mt("switchboard");
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<TextFieldsFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v%*");
    logger->set_formatter(std::move(formatter));
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void log_event(spdlog::level::level_enum level, std::string_view message, LogFields fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  FieldScope scope(std::span<const LogField>(fields.begin(), fields.size()));
  logger->log(level, "{}", message);
}

std::string json_log_line(std::chrono::system_clock::time_point time,
                          spdlog::level::level_enum level, std::string_view message,
                          std::span<const LogField> fields) {
  nlohmann::ordered_json j;
  j["time"] = rfc3339_utc(time);
  auto name = spdlog::level::to_string_view(level);
  j["level"] = std::string_view(name.data(), name.size());
  j["message"] = message;
  for (const auto& f : fields) {
    std::string key(f.key());
    if (f.is_number()) {
      j[key] = f.number();
    } else {
      j[key] = f.text();
    }
  }
  auto line = dump(j);
  line.push_back('\n');
  return line;
}

std::string text_log_fields(std::span<const LogField> fields) {
  std::string out;
  for (const auto& f : fields) {
    out.push_back(' ');
    out.append(f.key());
    out.push_back('=');
    if (f.is_number()) {
      out += std::to_string(f.number());
    } else if (plain(f.text())) {
      out.append(f.text());
    } else {
      out += dump(nlohmann::ordered_json(f.text()));
    }
  }
  return out;
}

}  // namespace switchboard
