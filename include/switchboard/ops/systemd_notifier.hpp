#pragma once

#include <chrono>
#include <string_view>

namespace switchboard {

/// Tells systemd what the daemon is doing, for a `Type=notify` unit: READY=1 once it serves,
/// STOPPING=1 when it begins to stop, STATUS= lines for `systemctl status`, and WATCHDOG=1
/// pings when the unit has `WatchdogSec=`. Without NOTIFY_SOCKET (not run by systemd, or a
/// unit of another type) every call does nothing.
class SystemdNotifier {
 public:
  /// Reads NOTIFY_SOCKET, and WATCHDOG_USEC with WATCHDOG_PID (which must name this process).
  SystemdNotifier();

  void ready(std::string_view status) const;
  void stopping(std::string_view status) const;
  void status(std::string_view status) const;
  void watchdog_ping() const;

  /// How often to ping: half the watchdog interval systemd gave this process, so that one
  /// late ping is not yet a failure; zero when there is no watchdog to ping.
  std::chrono::microseconds watchdog_period() const { return watchdog_period_; }

 private:
  void send(const std::string& state) const;

  bool enabled_ = false;
  std::chrono::microseconds watchdog_period_{0};
};

}  // namespace switchboard
