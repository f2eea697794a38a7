#include "switchboard/cluster/redis_ticket_store.hpp"

#include "switchboard/auth/api_key.hpp"
#include "switchboard/util/encoding.hpp"
#include "switchboard/util/logging.hpp"

namespace switchboard {

namespace {
std::string ticket_key(std::string_view ticket) {
  return "sb:ticket:" + hash_api_key(ticket);
}

/// "<user id>\n<key hash in hex>\n<username>": the username last, as it is the one field that
/// is not fixed in form (validation keeps newlines out of it anyway). The key hash is raw
/// SHA-256 bytes, so in hex: one hash in eight holds a newline byte, which split it wrongly.
std::string encode_identity(const Identity& who) {
  return std::to_string(who.user_id) + "\n" + hex_encode(who.key_hash) + "\n" + who.username;
}

std::optional<Identity> decode_identity(std::string_view text) {
  auto first = text.find('\n');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = text.find('\n', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto user = parse_decimal(text.substr(0, first));
  auto key_hash = hex_decode(text.substr(first + 1, second - first - 1));
  if (!user || *user == 0 || !key_hash) return std::nullopt;
  return Identity{static_cast<UserId>(*user), std::string(text.substr(second + 1)),
                  std::move(*key_hash)};
}
}  // namespace

RedisTicketStore::RedisTicketStore(std::shared_ptr<RedisClient> redis, std::chrono::seconds ttl)
    : redis_(std::move(redis)), ttl_(ttl) {}

void RedisTicketStore::issue(const Identity& who, Issued done) {
  std::string ticket = random_token(32);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
  redis_->command({"SET", ticket_key(ticket), encode_identity(who), "PX", std::to_string(ms)},
                  [ticket, done = std::move(done)](RedisClient::Reply r) {
                    if (!r.ok() || r.value().is_error()) {
                      log_warn("ticket not stored in Redis",
                               {{"error", r.ok() ? r.value().str : r.error().message}});
                      return done(TicketsUnavailable{});
                    }
                    done(ticket);
                  });
}

void RedisTicketStore::redeem(std::string_view ticket, Redeemed done) {
  redis_->command({"GETDEL", ticket_key(ticket)}, [done = std::move(done)](RedisClient::Reply r) {
    if (!r.ok() || r.value().is_error()) return done(TicketsUnavailable{});
    if (r.value().type != RedisReply::Type::string) return done(std::optional<Identity>{});
    done(decode_identity(r.value().str));
  });
}

}  // namespace switchboard
