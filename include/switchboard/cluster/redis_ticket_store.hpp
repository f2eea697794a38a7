#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "switchboard/auth/ticket_book.hpp"
#include "switchboard/cluster/redis_client.hpp"

namespace switchboard {

/// The cluster's /ws tickets, in Redis, so that a ticket one daemon issued opens /ws on any
/// other (a load balancer sends the POST and the upgrade to different daemons). Each ticket
/// is `sb:ticket:<SHA-256 of the ticket>` (like the daemon's own store, nothing in Redis is a
/// usable ticket), holding the identity, with PX = ttl; redeeming it is GETDEL, so it is
/// spent exactly once whichever daemons race for it. A revoked key's tickets are not looked
/// for here: the daemon checks the identity's key against its revoked keys, which every
/// daemon learns of (ClusterHub's revoke broadcast).
class RedisTicketStore : public TicketBook {
 public:
  RedisTicketStore(std::shared_ptr<RedisClient> redis, std::chrono::seconds ttl);

  void issue(const Identity& who, Issued done) override;
  void redeem(std::string_view ticket, Redeemed done) override;
  std::chrono::seconds ttl() const override { return ttl_; }

 private:
  std::shared_ptr<RedisClient> redis_;
  std::chrono::seconds ttl_;
};

}  // namespace switchboard
