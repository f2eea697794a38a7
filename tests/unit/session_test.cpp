// Session: numbering, the keep for a resume, take-over and the end, with a carrier that
// records what it is handed.
#include "switchboard/signaling/session.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace switchboard {
namespace {

struct RecordingCarrier : SessionCarrier {
  std::vector<std::pair<std::uint64_t, std::string>> carried;
  std::vector<CloseCode> drops;
  void carry(std::uint64_t seq, SharedText message) override {
    carried.emplace_back(seq, *message);
  }
  void drop(CloseCode code, std::string_view) override { drops.push_back(code); }
};

SharedText text(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

std::shared_ptr<Session> make_session(KeepLimits keep = {}, int* ended = nullptr) {
  auto s = std::make_shared<Session>(Identity{7, "alice", "key"}, std::string(43, 'S'), keep);
  s->set_end_handler([ended](Session&) {
    if (ended) ++*ended;
  });
  return s;
}

auto welcome = [](std::uint64_t ack) { return text("welcome ack=" + std::to_string(ack)); };

TEST(Session, NumbersWhatItDeliversFromOneAfterAnUnnumberedWelcome) {
  auto s = make_session();
  auto c = std::make_shared<RecordingCarrier>();
  ASSERT_TRUE(s->attach(c, 0, welcome).has_value());
  s->deliver(text("a"));
  s->deliver(text("b"));
  ASSERT_EQ(c->carried.size(), 3u);
  EXPECT_EQ(c->carried[0], (std::pair<std::uint64_t, std::string>{0, "welcome ack=0"}));
  EXPECT_EQ(c->carried[1].first, 1u);
  EXPECT_EQ(c->carried[2], (std::pair<std::uint64_t, std::string>{2, "b"}));
}

TEST(Session, ATakeOverReplaysWhatFollowsLastSeqAndReturnsTheOldCarrier) {
  auto s = make_session();
  auto old_carrier = std::make_shared<RecordingCarrier>();
  s->attach(old_carrier, 0, welcome);
  for (const char* m : {"1", "2", "3"}) s->deliver(text(m));
  ASSERT_TRUE(s->accept_client_seq(4));
  auto fresh = std::make_shared<RecordingCarrier>();
  auto previous = s->attach(fresh, 1, welcome);
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->get(), old_carrier.get());
  ASSERT_EQ(fresh->carried.size(), 3u);
  EXPECT_EQ(fresh->carried[0].second, "welcome ack=4");
  EXPECT_EQ(fresh->carried[1], (std::pair<std::uint64_t, std::string>{2, "2"}));
  EXPECT_EQ(fresh->carried[2], (std::pair<std::uint64_t, std::string>{3, "3"}));
  // What comes next goes to the new carrier only, numbered on.
  s->deliver(text("4"));
  EXPECT_EQ(fresh->carried.back(), (std::pair<std::uint64_t, std::string>{4, "4"}));
  EXPECT_EQ(old_carrier->carried.size(), 4u);  // welcome and 1..3, nothing after
}

TEST(Session, ALastSeqAheadOrOlderThanTheKeepIsRefused) {
  auto s = make_session(KeepLimits{2, 1 << 20});
  s->attach(std::make_shared<RecordingCarrier>(), 0, welcome);
  for (const char* m : {"1", "2", "3", "4"}) s->deliver(text(m));
  // Kept: 3 and 4. A client that handled 1 would miss 2.
  EXPECT_FALSE(s->attach(std::make_shared<RecordingCarrier>(), 1, welcome).has_value());
  EXPECT_FALSE(s->attach(std::make_shared<RecordingCarrier>(), 5, welcome).has_value());
  EXPECT_TRUE(s->attach(std::make_shared<RecordingCarrier>(), 2, welcome).has_value());
  EXPECT_TRUE(s->attach(std::make_shared<RecordingCarrier>(), 4, welcome).has_value());
}

TEST(Session, TheKeepIsBoundedInBytesToo) {
  auto s = make_session(KeepLimits{100, 10});
  s->attach(std::make_shared<RecordingCarrier>(), 0, welcome);
  s->deliver(text("123456"));  // 1
  s->deliver(text("123456"));  // 2: 12 bytes kept would be over 10, so 1 goes
  EXPECT_FALSE(s->attach(std::make_shared<RecordingCarrier>(), 0, welcome).has_value());
  EXPECT_TRUE(s->attach(std::make_shared<RecordingCarrier>(), 1, welcome).has_value());
}

TEST(Session, DetachedItKeepsUpToTheLimitThenEnds) {
  int ended = 0;
  auto s = make_session(KeepLimits{3, 1 << 20}, &ended);
  auto c = std::make_shared<RecordingCarrier>();
  s->attach(c, 0, welcome);
  s->deliver(text("1"));
  ASSERT_TRUE(s->detach(c.get(), Session::Clock::now()));
  for (const char* m : {"2", "3", "4"}) s->deliver(text(m));
  EXPECT_EQ(ended, 0);
  EXPECT_FALSE(s->ended());
  s->deliver(text("5"));  // a fourth since the detach
  EXPECT_EQ(ended, 1);
  EXPECT_TRUE(s->ended());
  EXPECT_FALSE(s->attach(std::make_shared<RecordingCarrier>(), 1, welcome).has_value());
}

TEST(Session, OnlyTheCurrentCarrierDetachesOrEndsIt) {
  int ended = 0;
  auto s = make_session({}, &ended);
  auto first = std::make_shared<RecordingCarrier>();
  auto second = std::make_shared<RecordingCarrier>();
  s->attach(first, 0, welcome);
  s->attach(second, 0, welcome);
  EXPECT_FALSE(s->detach(first.get(), Session::Clock::now()));
  s->end_from(first.get());
  EXPECT_EQ(ended, 0);
  EXPECT_FALSE(s->ended());
  s->end_from(second.get());
  EXPECT_EQ(ended, 1);
}

TEST(Session, TheWindowEndsADetachedSessionOnly) {
  int ended = 0;
  auto s = make_session({}, &ended);
  auto c = std::make_shared<RecordingCarrier>();
  s->attach(c, 0, welcome);
  auto t0 = Session::Clock::now();
  EXPECT_FALSE(s->expire_if_detached_before(t0 + std::chrono::hours(1)));  // attached
  s->detach(c.get(), t0);
  EXPECT_FALSE(s->expire_if_detached_before(t0));  // not before the deadline
  EXPECT_TRUE(s->expire_if_detached_before(t0 + std::chrono::seconds(1)));
  EXPECT_EQ(ended, 1);
  EXPECT_FALSE(s->expire_if_detached_before(t0 + std::chrono::seconds(2)));  // once
}

TEST(Session, CloseEndsOnceAndDropsTheCarrier) {
  int ended = 0;
  auto s = make_session({}, &ended);
  auto c = std::make_shared<RecordingCarrier>();
  s->attach(c, 0, welcome);
  s->close(CloseCode::key_revoked, "revoked");
  s->close(CloseCode::going_away, "again");
  EXPECT_EQ(ended, 1);
  ASSERT_EQ(c->drops.size(), 1u);
  EXPECT_EQ(c->drops[0], CloseCode::key_revoked);
  s->deliver(text("after"));
  EXPECT_EQ(c->carried.size(), 1u);  // the Welcome only
}

TEST(Session, AnIdOfAnyOtherLengthIsRefused) {
  EXPECT_THROW(Session(Identity{}, "short", KeepLimits{}), std::invalid_argument);
  Session s(Identity{}, std::string(43, 'x'), KeepLimits{});
  EXPECT_EQ(s.id(), std::string(43, 'x'));
}

TEST(Session, ClientSeqMustRise) {
  auto s = make_session();
  EXPECT_TRUE(s->accept_client_seq(1));
  EXPECT_FALSE(s->accept_client_seq(1));
  EXPECT_TRUE(s->accept_client_seq(5));
  EXPECT_FALSE(s->accept_client_seq(3));
  EXPECT_TRUE(s->accept_client_seq(6));
}

TEST(Session, WithKeepingOffNothingIsKeptButNumbersGoOn) {
  auto s = make_session(KeepLimits{0, 0});
  auto c = std::make_shared<RecordingCarrier>();
  s->attach(c, 0, welcome);
  s->deliver(text("1"));
  s->deliver(text("2"));
  EXPECT_EQ(c->carried.back().first, 2u);
  EXPECT_FALSE(s->attach(std::make_shared<RecordingCarrier>(), 1, welcome).has_value());
}

}  // namespace
}  // namespace switchboard
