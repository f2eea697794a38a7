#include "switchboard/auth/ticket_store.hpp"

#include "switchboard/auth/api_key.hpp"
#include "switchboard/util/encoding.hpp"

namespace switchboard {

TicketStore::TicketStore(std::chrono::seconds ttl, std::size_t max_tickets, SteadyNow now)
    : ttl_(ttl), max_tickets_(max_tickets), now_(std::move(now)) {}

std::optional<std::string> TicketStore::issue(const Identity& who) {
  auto now = now_();
  std::string ticket = random_token(32);
  std::lock_guard lock(mutex_);
  if (tickets_.size() >= max_tickets_) {
    purge_expired_locked(now);
    if (tickets_.size() >= max_tickets_) return std::nullopt;
  }
  tickets_.emplace(hash_api_key(ticket), Entry{who, now + ttl_});
  return ticket;
}

std::optional<Identity> TicketStore::redeem(std::string_view ticket) {
  auto now = now_();
  std::string key = hash_api_key(ticket);
  std::lock_guard lock(mutex_);
  auto it = tickets_.find(key);
  if (it == tickets_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  tickets_.erase(it);
  if (entry.expires <= now) return std::nullopt;
  return std::move(entry.who);
}

void TicketStore::issue(const Identity& who, Issued done) {
  auto ticket = issue(who);
  if (!ticket) return done(TicketsUnavailable{});
  done(std::move(*ticket));
}

void TicketStore::redeem(std::string_view ticket, Redeemed done) {
  done(redeem(ticket));
}

void TicketStore::revoke(UserId user, std::string_view key_hash) {
  std::lock_guard lock(mutex_);
  std::erase_if(tickets_, [&](const auto& kv) {
    return kv.second.who.user_id == user && kv.second.who.key_hash == key_hash;
  });
}

void TicketStore::purge_expired_locked(std::chrono::steady_clock::time_point now) {
  std::erase_if(tickets_, [&](const auto& kv) { return kv.second.expires <= now; });
}

}  // namespace switchboard
