#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchboard/auth/identity.hpp"
#include "switchboard/auth/ticket_book.hpp"

namespace switchboard {

using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;

/// Short-lived, single-use tickets that let a browser open /ws without sending its API key
/// in a header (which the WebSocket API cannot do). In memory only: a restart voids them,
/// which costs a client one more POST /ws-ticket.
class TicketStore : public TicketBook {
 public:
  explicit TicketStore(std::chrono::seconds ttl, std::size_t max_tickets = 100'000,
                       SteadyNow now = std::chrono::steady_clock::now);

  /// A new ticket for `who`, or nullopt when max_tickets unexpired tickets exist already.
  std::optional<std::string> issue(const Identity& who);
  /// The identity behind a valid, unused, unexpired ticket; the ticket is spent either way.
  std::optional<Identity> redeem(std::string_view ticket);
  /// Voids every ticket `user` obtained with the key whose hash is `key_hash`.
  void revoke(UserId user, std::string_view key_hash);

  std::chrono::seconds ttl() const override { return ttl_; }

  // TicketBook: answered at once. A full store is TicketsUnavailable.
  void issue(const Identity& who, Issued done) override;
  void redeem(std::string_view ticket, Redeemed done) override;

 private:
  struct Entry {
    Identity who;
    std::chrono::steady_clock::time_point expires;
  };
  void purge_expired_locked(std::chrono::steady_clock::time_point now);

  std::chrono::seconds ttl_;
  std::size_t max_tickets_;
  SteadyNow now_;
  std::mutex mutex_;
  // Keyed by the SHA-256 of the ticket, so a memory dump holds no usable ticket.
  std::unordered_map<std::string, Entry> tickets_;
};

}  // namespace switchboard
