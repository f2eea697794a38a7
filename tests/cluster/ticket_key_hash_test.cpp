// RedisTicketStore against a real redis-server, on the bytes of a key hash: a ticket issued
// through one connection (one daemon) is redeemed once through another, with the identity
// intact whatever bytes the key hash holds.
#include <gtest/gtest.h>

#include <string>

#include "support/redis_fixture.hpp"
#include "switchboard/auth/api_key.hpp"
#include "switchboard/cluster/redis_ticket_store.hpp"

namespace switchboard::test {
namespace {

using Issued = Result<std::string, TicketsUnavailable>;
using Redeemed = Result<std::optional<Identity>, TicketsUnavailable>;

class TicketKeyHashTest : public RedisFixture {
 protected:
  std::string issue(RedisTicketStore& store, const Identity& who) {
    auto r = await_answer<Issued>([&](auto done) { store.issue(who, std::move(done)); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::string();
  }
  std::optional<Identity> redeem(RedisTicketStore& store, const std::string& ticket) {
    auto r = await_answer<Redeemed>([&](auto done) { store.redeem(ticket, std::move(done)); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::nullopt;
  }
};

// A key hash is raw SHA-256: about one in eight holds a newline byte, and most hold bytes
// that are not UTF-8. Each must come back as it went in (a mangled one put a key hash's tail
// into the username, and the Welcome then failed to serialise).
TEST_F(TicketKeyHashTest, AnIdentityWithAnyKeyHashBytesSurvivesTheRoundTripOnce) {
  RedisTicketStore issuer(client(), std::chrono::seconds(30));
  RedisTicketStore redeemer(client(), std::chrono::seconds(30));
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  for (const std::string& key_hash :
       {std::string("\n\n\n"), every_byte, hash_api_key("a key"), std::string()}) {
    Identity who{42, "carol_1", key_hash};
    auto ticket = issue(issuer, who);
    auto got = redeem(redeemer, ticket);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->user_id, 42u);
    EXPECT_EQ(got->username, "carol_1");
    EXPECT_EQ(got->key_hash, key_hash);
    EXPECT_FALSE(redeem(issuer, ticket).has_value()) << "a ticket is single-use";
  }
}

TEST_F(TicketKeyHashTest, AValueThatIsNotAnIdentityRedeemsNothing) {
  auto c = client();
  RedisTicketStore store(c, std::chrono::seconds(30));
  for (const char* value : {"7\nzz\nbob", "7\nabc\nbob", "0\n00\nbob", "7 00 bob"}) {
    command(c, {"SET", "sb:ticket:" + hash_api_key("t"), value});
    EXPECT_FALSE(redeem(store, "t").has_value()) << value;
  }
}

}  // namespace
}  // namespace switchboard::test
