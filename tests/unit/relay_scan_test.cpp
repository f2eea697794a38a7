#include "switchboard/signaling/relay_scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard {
namespace {

constexpr UserId kSender = 7;
constexpr std::size_t kMaxRoom = 64;

const std::string kSdp =
    R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offer","sdp":"v=0\r\na=x\r\n"}}})";
const std::string kIce =
    R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 1 typ host","sdpMid":"0"}}})";

/// The fast path's answer must be the full parser's, whenever it gives one.
void expect_same_as_full_parse(const std::string& text) {
  auto fast = scan_relay(text);
  auto full = parse_client_message_in_full(text, kSender, kMaxRoom);
  if (!fast) return;
  ASSERT_TRUE(full.ok()) << text;
  EXPECT_EQ(fast->type, full.value().type) << text;
  EXPECT_EQ(fast->to, full.value().to) << text;
  EXPECT_EQ(fast->room_id, full.value().room_id) << text;
  EXPECT_EQ(fast->rewritten, full.value().rewritten) << text;
  EXPECT_EQ(fast->max_members, full.value().max_members) << text;
}

/// `text`, a relay of `type` to user 9 in room r1, takes the fast path, with the full
/// parser's result.
void expect_fast_relay(const std::string& text, MsgType type) {
  auto m = scan_relay(text);
  ASSERT_TRUE(m.has_value()) << text;
  EXPECT_EQ(m->type, type);
  EXPECT_EQ(m->to, 9u);
  EXPECT_EQ(m->room_id, "r1");
  EXPECT_TRUE(m->rewritten.empty());
  expect_same_as_full_parse(text);
}

TEST(RelayScan, ReadsAPlainSdpRelay) {
  expect_fast_relay(kSdp, MsgType::sdp);
}

TEST(RelayScan, ReadsAPlainIceRelayAndANullCandidate) {
  expect_fast_relay(kIce, MsgType::ice_candidate);
  expect_fast_relay(R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null}})",
                    MsgType::ice_candidate);
}

TEST(RelayScan, ToleratesWhitespaceOrderAndExtraFields) {
  for (
      std::string text : {
          std::string(" \r\n{ \"payload\" : { \"sdp\" : {\"sdp\":\"x\" , \"type\":\"answer\"}, "
                      "\"extra\":[1,{\"room_id\":5}], \"room_id\" : \"r1\" } , \"to\" : 9 , "
                      "\"msg_type\" : 2 , \"ts\":1.5} \t"),
          std::string(
              R"({"msg_type":3,"to":18446744073709551615,"x":{"to":1},"payload":{"room_id":"r1","candidate":{}}})"),
      }) {
    EXPECT_TRUE(scan_relay(text).has_value()) << text;
    expect_same_as_full_parse(text);
  }
}

TEST(RelayScan, LeavesEverythingUnusualToTheFullParser) {
  const std::vector<std::string> unusual = {
      // other types, and types not written as a plain integer
      R"({"msg_type":1,"payload":{"room_id":"r1"}})",
      R"({"msg_type":2.0,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offer","sdp":""}}})",
      R"({"msg_type":"2","to":9,"payload":{"room_id":"r1","sdp":{"type":"offer","sdp":""}}})",
      // a `from`, a duplicate envelope key, an escaped key
      R"({"msg_type":3,"to":9,"from":7,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"to":8,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"x":1,"x":2,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"t\u006f":9,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room\u005fid":"r1","candidate":null}})",
      // ids that are not plain digits, or too large
      R"({"msg_type":3,"to":-0,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9.0,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":1e1,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":18446744073709551616,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":"9","payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"payload":{"room_id":"r1","candidate":null}})",
      // payloads that fail a check, or that a parser could read two ways
      R"({"msg_type":3,"to":9})",
      R"({"msg_type":3,"to":9,"payload":[]})",
      R"({"msg_type":3,"to":9,"payload":{"candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"","candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r\u0031","candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","room_id":"r2","candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":[]}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1"}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"bogus","sdp":""}}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offe\u0072","sdp":""}}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offer","sdp":1}}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offer"}}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"offer","sdp":"","sdp":""}}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":"v=0"}})",
      // look-alike members inside arrays belong to no object the relay reads
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","x":[{"type":"offer","sdp":""}],"sdp":"s"}})",
      R"({"msg_type":3,"to":9,"q":[{"room_id":"r1"}],"payload":{"candidate":null}})",
      // not JSON, not an object, too deep for the scan
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null}}x)",
      R"([{"msg_type":3}])",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null,"d":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}})",
  };
  for (const auto& text : unusual) {
    EXPECT_FALSE(scan_relay(text).has_value()) << text;
  }
  std::string long_room = R"({"msg_type":3,"to":9,"payload":{"room_id":")" +
                          std::string(kMaxRoomIdLength + 1, 'r') + R"(","candidate":null}})";
  EXPECT_FALSE(scan_relay(long_room).has_value());
  std::string longest_room = R"({"msg_type":3,"to":9,"payload":{"room_id":")" +
                             std::string(kMaxRoomIdLength, 'r') + R"(","candidate":null}})";
  EXPECT_TRUE(scan_relay(longest_room).has_value());
  expect_same_as_full_parse(longest_room);
}

TEST(RelayScan, ParseClientMessageGivesTheFullParsersAnswerEitherWay) {
  // Through parse_client_message, fast path or not, every message gets the full parser's
  // verdict: accepted alike, or refused with the same Error.
  const std::vector<std::string> texts = {
      kSdp,
      kIce,
      R"({"msg_type":3,"to":9,"from":7,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"from":8,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"to":9,"payload":{"room_id":"r1","candidate":null}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":[]}})",
      R"({"msg_type":2,"to":9,"payload":{"room_id":"r1","sdp":{"type":"bogus","sdp":""}}})",
      R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null}}x)",
      "[]"};
  for (const auto& text : texts) {
    auto r = parse_client_message(text, kSender, kMaxRoom);
    auto full = parse_client_message_in_full(text, kSender, kMaxRoom);
    ASSERT_EQ(r.ok(), full.ok()) << text;
    if (r.ok()) {
      EXPECT_EQ(r.value().type, full.value().type) << text;
      EXPECT_EQ(r.value().to, full.value().to) << text;
      EXPECT_EQ(r.value().room_id, full.value().room_id) << text;
      EXPECT_EQ(r.value().rewritten, full.value().rewritten) << text;
    } else {
      EXPECT_EQ(r.error().code, full.error().code) << text;
      EXPECT_EQ(r.error().message, full.error().message) << text;
      EXPECT_EQ(r.error().msg_type, full.error().msg_type) << text;
    }
  }
}

}  // namespace
}  // namespace switchboard
