#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/auth/identity.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// The tickets could not be issued or read now (a cluster's Redis is down, or the daemon's
/// own store is full): 503 over HTTP.
struct TicketsUnavailable {};

/// Where /ws tickets live (protocol.md section 1): one daemon's memory (TicketStore), or a
/// cluster's Redis (RedisTicketStore), so that a ticket from one daemon opens /ws on any.
/// Answers come through callbacks: at once from memory, later from Redis, on any thread.
class TicketBook {
 public:
  using Issued = std::function<void(Result<std::string, TicketsUnavailable>)>;
  /// nullopt: no such ticket (never issued, spent, expired).
  using Redeemed = std::function<void(Result<std::optional<Identity>, TicketsUnavailable>)>;

  virtual ~TicketBook() = default;
  /// A new single-use ticket for `who`, valid for ttl().
  virtual void issue(const Identity& who, Issued done) = 0;
  /// The identity behind a valid, unused, unexpired ticket; the ticket is spent either way.
  virtual void redeem(std::string_view ticket, Redeemed done) = 0;
  virtual std::chrono::seconds ttl() const = 0;
};

}  // namespace switchboard
