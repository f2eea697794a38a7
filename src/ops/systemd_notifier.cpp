#include "switchboard/ops/systemd_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "switchboard/util/logging.hpp"

namespace switchboard {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  if (!enabled_) return;
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is our own pid.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotifier::send(const std::string& state) const {
  if (!enabled_) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) log_warn("systemd notification failed", {{"error_code", -rc}});
}

void SystemdNotifier::ready(std::string_view status) const {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::stopping(std::string_view status) const {
  send("STOPPING=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) const {
  send("STATUS=" + std::string(status));
}

void SystemdNotifier::watchdog_ping() const {
  send("WATCHDOG=1");
}

}  // namespace switchboard
