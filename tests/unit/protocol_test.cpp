#include "switchboard/signaling/protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace switchboard {
namespace {

using nlohmann::json;

constexpr UserId kSender = 7;
constexpr std::size_t kMaxRoom = 64;

Result<ClientMessage, SignalFailure> parse(const std::string& text) {
  return parse_client_message(text, kSender, kMaxRoom);
}
Result<ClientMessage, SignalFailure> parse(const char* text) {
  return parse(std::string(text));
}
Result<ClientMessage, SignalFailure> parse(const json& j) {
  return parse(j.dump());
}

/// What the target of `m` (parsed from `sent`) receives, less the `from` the server adds.
json relayed_without_from(const json& sent, const ClientMessage& m) {
  json relayed = json::parse(*make_relay(sent.dump(), m, kSender));
  EXPECT_EQ(relayed["from"], kSender);
  relayed.erase("from");
  return relayed;
}

/// Expects `text` to be refused with `code`, and the Error to name `msg_type`.
void expect_failure(const Result<ClientMessage, SignalFailure>& r, SignalError code,
                    std::optional<int> msg_type, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": accepted";
  EXPECT_EQ(to_string(r.error().code), std::string(to_string(code))) << what;
  EXPECT_EQ(r.error().msg_type, msg_type) << what;
  EXPECT_FALSE(r.error().message.empty()) << what;
}

json sdp_message(json sdp) {
  return {{"msg_type", 2}, {"to", 9}, {"payload", {{"room_id", "r1"}, {"sdp", std::move(sdp)}}}};
}
json ice_message(json payload) {
  return {{"msg_type", 3}, {"to", 9}, {"payload", std::move(payload)}};
}
json valid_sdp() {
  return {{"type", "offer"}, {"sdp", "v=0\r\n"}};
}

json parse_json(const SharedText& text) {
  EXPECT_NE(text, nullptr);
  return text ? json::parse(*text) : json();
}

// ---- bad_json ----

TEST(Protocol, InvalidJsonIsBadJson) {
  for (const char* text : {"", "not json", "{", R"({"msg_type": 0)", "[1,", R"({"a":})",
                           "{'msg_type': 0}", R"({"msg_type": 0} trailing)"}) {
    expect_failure(parse(std::string(text)), SignalError::bad_json, std::nullopt, text);
  }
}

TEST(Protocol, TooDeepNestingIsBadJson) {
  std::string deep =
      R"({"msg_type":0,"payload":)" + std::string(40, '[') + std::string(40, ']') + "}";
  expect_failure(parse(deep), SignalError::bad_json, std::nullopt, "deep");
}

// nlohmann's lexer takes a NUL for the end of input: a valid message followed by a NUL and
// anything would pass if the parser were asked alone (fuzz regression nul-after-value).
TEST(Protocol, ANulByteAnywhereIsBadJson) {
  std::string relay = R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null}})";
  for (const std::string& text :
       {std::string(R"({"msg_type":4,"payload":{"room_id":"r1"}})") + '\0' + "garbage",
        relay + '\0', relay + std::string("\0", 1) + "}", std::string("\0", 1) + relay}) {
    auto r = parse(text);
    expect_failure(r, SignalError::bad_json, std::nullopt, "NUL");
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "not valid JSON");
    }
  }
}

TEST(Protocol, AByteOrderMarkIsBadJson) {
  // nlohmann skips a leading BOM; JSON texts on the wire carry none (RFC 8259 section 8.1).
  auto r = parse(
      "\xEF\xBB\xBF"
      R"({"msg_type":4,"payload":{"room_id":"r1"}})");
  expect_failure(r, SignalError::bad_json, std::nullopt, "BOM");
}

TEST(Protocol, NumbersBeyondADoubleAreBadJson) {
  // nlohmann refuses a number that overflows a double to infinity, on either path.
  for (const char* x : {"1e999", "-1e400", "1.8e308", "1e0000000000000000000400"}) {
    std::string text = R"({"msg_type":3,"to":9,"payload":{"room_id":"r1","candidate":null},"x":)" +
                       std::string(x) + "}";
    auto r = parse(text);
    expect_failure(r, SignalError::bad_json, std::nullopt, x);
    EXPECT_FALSE(parse_client_message_in_full(text, kSender, kMaxRoom).ok()) << x;
  }
}

TEST(Protocol, BigIntegersAreDoublesNotIds) {
  // Beyond 2^64 nlohmann keeps an integer as a double: valid JSON, but no id.
  auto r = parse(R"({"msg_type":3,"to":18446744073709551616,"payload":{"room_id":"r1",)"
                 R"("candidate":null}})");
  expect_failure(r, SignalError::bad_envelope, 3, "to=2^64");
  auto ok = parse(R"({"msg_type":3,"to":18446744073709551615,"payload":{"room_id":"r1",)"
                  R"("candidate":null},"x":1e-400,"y":1)" +
                  std::string(400, '0') + "e-300}");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().to, 18446744073709551615u);
}

TEST(Protocol, LoneSurrogateEscapesAreBadJson) {
  for (const char* s : {R"(\ud800)", R"(\udc00)", R"(\ud800\u0041)", R"(\ud800x)"}) {
    std::string text = R"({"msg_type":1,"payload":{"room_id":"r)" + std::string(s) + R"("}})";
    expect_failure(parse(text), SignalError::bad_json, std::nullopt, s);
  }
  auto paired = parse(R"({"msg_type":1,"payload":{"room_id":"r\ud83d\ude00"}})");
  ASSERT_TRUE(paired.ok());
  EXPECT_EQ(paired.value().room_id, "r\xF0\x9F\x98\x80");
}

TEST(Protocol, TheLastOfARepeatedKeyCounts) {
  auto r = parse(R"({"msg_type":1,"payload":{"room_id":"first","room_id":"last"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().room_id, "last");
  auto t = parse(R"({"msg_type":99,"msg_type":1,"payload":{"room_id":"r1"}})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().type, MsgType::join_room);
}

TEST(Protocol, AHundredThousandLevelsAreRefusedWithoutRecursion) {
  // Refused as the parser reaches level 33: no DOM of that depth is ever built or destroyed.
  for (const std::string& open : {std::string("["), std::string(R"({"a":)")}) {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += open;
    auto r = parse_client_message_in_full(deep, kSender, kMaxRoom);
    expect_failure(r, SignalError::bad_json, std::nullopt, "deep " + open);
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "message nests deeper than 32 levels");
    }
  }
}

TEST(Protocol, TheFirstFaultNamesTheError) {
  // A syntax error before level 33 is not JSON; nesting past 32 before any error is too deep.
  auto early = parse("[1,]" + std::string(40, '['));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().message, "not valid JSON");
  auto deep = parse(std::string(40, '[') + "1,]");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().message, "message nests deeper than 32 levels");
}

TEST(Protocol, NestingWithinTheLimitIsNotBadJson) {
  // 30 levels inside an ICE candidate's extra field: deep, but legal and relayed.
  json inner = json::array();
  for (int i = 0; i < 28; ++i) inner = json::array({inner});
  auto r = parse(ice_message({{"room_id", "r1"}, {"candidate", {{"x", inner}}}}));
  EXPECT_TRUE(r.ok());
}

// ---- bad_envelope ----

TEST(Protocol, NonObjectIsBadEnvelope) {
  for (const char* text : {"[]", "[0]", "42", R"("msg_type")", "null", "true"}) {
    expect_failure(parse(std::string(text)), SignalError::bad_envelope, std::nullopt, text);
  }
}

TEST(Protocol, MissingOrNonIntegerMsgTypeIsBadEnvelope) {
  for (const char* text :
       {R"({})", R"({"payload":{}})", R"({"msg_type":"0"})", R"({"msg_type":null})",
        R"({"msg_type":true})", R"({"msg_type":[0]})", R"({"msg_type":{}})"}) {
    expect_failure(parse(std::string(text)), SignalError::bad_envelope, std::nullopt, text);
  }
}

TEST(Protocol, FloatMsgTypeIsBadEnvelope) {
  for (const char* text : {R"({"msg_type":1.5})", R"({"msg_type":1.0})", R"({"msg_type":0e0})",
                           R"({"msg_type":1e0})"}) {
    expect_failure(parse(std::string(text)), SignalError::bad_envelope, std::nullopt, text);
  }
}

TEST(Protocol, BadToIsBadEnvelope) {
  for (const json& to : {json(-1), json("9"), json(9.0), json(9.5), json(nullptr), json(true),
                         json::array({9}), json::object()}) {
    json m = sdp_message(valid_sdp());
    m["to"] = to;
    expect_failure(parse(m), SignalError::bad_envelope, 2, "to=" + to.dump());
  }
}

TEST(Protocol, BadFromIsBadEnvelope) {
  for (const json& from : {json(-7), json("7"), json(7.0), json(nullptr), json(false)}) {
    json m = {{"msg_type", 1}, {"from", from}, {"payload", {{"room_id", "r1"}}}};
    expect_failure(parse(m), SignalError::bad_envelope, 1, "from=" + from.dump());
  }
}

TEST(Protocol, BadToOnANonRelayTypeIsStillBadEnvelope) {
  json m = {{"msg_type", 0}, {"to", "someone"}};
  expect_failure(parse(m), SignalError::bad_envelope, 0, "create with to string");
}

TEST(Protocol, MissingToOnRelayedTypesIsBadEnvelope) {
  json sdp = sdp_message(valid_sdp());
  sdp.erase("to");
  expect_failure(parse(sdp), SignalError::bad_envelope, 2, "sdp without to");
  json ice = ice_message({{"room_id", "r1"}, {"candidate", nullptr}});
  ice.erase("to");
  expect_failure(parse(ice), SignalError::bad_envelope, 3, "ice without to");
}

// ---- unknown_type ----

TEST(Protocol, ServerOnlyTypesAreUnknownType) {
  for (int type : {5, 6, 7, 8, 9, 11, 12, 13}) {
    json m = {{"msg_type", type}, {"payload", {{"room_id", "r1"}}}};
    expect_failure(parse(m), SignalError::unknown_type, type, "type " + std::to_string(type));
  }
}

TEST(Protocol, UndefinedTypesAreUnknownType) {
  for (int type : {14, -1, 100, 2147483647, -2147483647 - 1}) {
    json m = {{"msg_type", type}, {"payload", {}}};
    expect_failure(parse(m), SignalError::unknown_type, type, "type " + std::to_string(type));
  }
}

TEST(Protocol, HugeTypesAreUnknownType) {
  for (const char* text : {R"({"msg_type":1099511627776})", R"({"msg_type":-1099511627776})",
                           R"({"msg_type":18446744073709551615})"}) {
    auto r = parse(std::string(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, SignalError::unknown_type) << text;
  }
}

TEST(Protocol, ErrorNeverNamesATypeTheClientDidNotSend) {
  // An Error carries the offending msg_type "or null"; a type that does not fit an int must be
  // reported as null, never as some other number.
  for (const char* text :
       {R"({"msg_type":1099511627776})", R"({"msg_type":4294967296})",
        R"({"msg_type":18446744073709551615})", R"({"msg_type":18446744073709551614})"}) {
    auto r = parse(std::string(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().msg_type, std::nullopt) << text;
  }
}

// ---- forbidden ----

TEST(Protocol, FromOfSomeoneElseIsForbidden) {
  json m = {{"msg_type", 1}, {"from", kSender + 1}, {"payload", {{"room_id", "r1"}}}};
  expect_failure(parse(m), SignalError::forbidden, 1, "from another user");
  json sdp = sdp_message(valid_sdp());
  sdp["from"] = 0;
  expect_failure(parse(sdp), SignalError::forbidden, 2, "from the server's id");
}

TEST(Protocol, FromEqualToSenderIsAccepted) {
  json m = {{"msg_type", 1}, {"from", kSender}, {"payload", {{"room_id", "r1"}}}};
  auto r = parse(m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type, MsgType::join_room);
}

// ---- bad_payload ----

TEST(Protocol, NonObjectPayloadIsBadPayload) {
  for (const json& payload : {json::array(), json("room"), json(1), json(nullptr), json(true)}) {
    json m = {{"msg_type", 0}, {"payload", payload}};
    expect_failure(parse(m), SignalError::bad_payload, 0, "payload " + payload.dump());
  }
}

TEST(Protocol, RoomIdMissingOrWrongTypeIsBadPayload) {
  for (int type : {1, 4, 10}) {
    expect_failure(parse(json{{"msg_type", type}}), SignalError::bad_payload, type, "absent");
    expect_failure(parse(json{{"msg_type", type}, {"payload", json::object()}}),
                   SignalError::bad_payload, type, "missing");
    for (const json& id : {json(5), json(nullptr), json::array({"r1"}), json::object()}) {
      json m = {{"msg_type", type}, {"payload", {{"room_id", id}}}};
      expect_failure(parse(m), SignalError::bad_payload, type, "room_id " + id.dump());
    }
  }
}

TEST(Protocol, RoomIdLengthIsBounded) {
  json empty = {{"msg_type", 1}, {"payload", {{"room_id", ""}}}};
  expect_failure(parse(empty), SignalError::bad_payload, 1, "empty room_id");
  json too_long = {{"msg_type", 1}, {"payload", {{"room_id", std::string(65, 'r')}}}};
  expect_failure(parse(too_long), SignalError::bad_payload, 1, "65 characters");
  json longest = {{"msg_type", 1}, {"payload", {{"room_id", std::string(64, 'r')}}}};
  auto r = parse(longest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().room_id, std::string(64, 'r'));
  json huge = {{"msg_type", 1}, {"payload", {{"room_id", std::string(10000, 'r')}}}};
  expect_failure(parse(huge), SignalError::bad_payload, 1, "10000 characters");
}

TEST(Protocol, RelayedTypesNeedRoomId) {
  json sdp = {{"msg_type", 2}, {"to", 9}, {"payload", {{"sdp", valid_sdp()}}}};
  expect_failure(parse(sdp), SignalError::bad_payload, 2, "sdp without room_id");
  json ice = ice_message({{"candidate", nullptr}});
  expect_failure(parse(ice), SignalError::bad_payload, 3, "ice without room_id");
}

TEST(Protocol, MaxMembersOutOfRangeIsBadPayload) {
  for (const json& n : {json(0), json(kMaxRoom + 1), json(1000000), json(-1), json(2.0), json(1.5),
                        json("4"), json(nullptr), json(true)}) {
    json m = {{"msg_type", 0}, {"payload", {{"max_members", n}}}};
    expect_failure(parse(m), SignalError::bad_payload, 0, "max_members " + n.dump());
  }
  auto huge =
      parse(std::string(R"({"msg_type":0,"payload":{"max_members":18446744073709551615}})"));
  expect_failure(huge, SignalError::bad_payload, 0, "max_members 2^64-1");
}

TEST(Protocol, MaxMembersBoundsAreAccepted) {
  for (std::size_t n : {std::size_t{1}, kMaxRoom}) {
    auto r = parse(json{{"msg_type", 0}, {"payload", {{"max_members", n}}}});
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(r.value().max_members, n);
  }
  // The cap comes from the caller.
  auto r = parse_client_message(R"({"msg_type":0,"payload":{"max_members":5}})", kSender, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, SignalError::bad_payload);
}

TEST(Protocol, SdpPayloadChecks) {
  struct Case {
    json sdp;
    const char* what;
  };
  const Case cases[] = {
      {json(nullptr), "sdp null"},
      {json("v=0"), "sdp a string"},
      {json::array(), "sdp an array"},
      {json{{"sdp", "v=0"}}, "type missing"},
      {json{{"type", "bogus"}, {"sdp", "v=0"}}, "type bogus"},
      {json{{"type", "Offer"}, {"sdp", "v=0"}}, "type Offer"},
      {json{{"type", 1}, {"sdp", "v=0"}}, "type a number"},
      {json{{"type", "offer"}}, "sdp.sdp missing"},
      {json{{"type", "offer"}, {"sdp", 5}}, "sdp.sdp a number"},
      {json{{"type", "offer"}, {"sdp", nullptr}}, "sdp.sdp null"},
      {json{{"type", "offer"}, {"sdp", {{"v", 0}}}}, "sdp.sdp an object"},
  };
  for (const auto& c : cases) {
    expect_failure(parse(sdp_message(c.sdp)), SignalError::bad_payload, 2, c.what);
  }
  json no_sdp = {{"msg_type", 2}, {"to", 9}, {"payload", {{"room_id", "r1"}}}};
  expect_failure(parse(no_sdp), SignalError::bad_payload, 2, "sdp missing");
}

TEST(Protocol, EverySdpTypeIsAccepted) {
  for (const char* type : {"offer", "answer", "pranswer", "rollback"}) {
    auto r = parse(sdp_message({{"type", type}, {"sdp", ""}}));
    ASSERT_TRUE(r.ok()) << type;
    EXPECT_EQ(r.value().type, MsgType::sdp);
  }
}

TEST(Protocol, IceCandidatePayloadChecks) {
  expect_failure(parse(ice_message({{"room_id", "r1"}})), SignalError::bad_payload, 3,
                 "candidate missing");
  for (const json& c :
       {json("candidate:1 1 udp 1 1.2.3.4 5 typ host"), json(5), json(true), json::array()}) {
    expect_failure(parse(ice_message({{"room_id", "r1"}, {"candidate", c}})),
                   SignalError::bad_payload, 3, "candidate " + c.dump());
  }
}

TEST(Protocol, NullCandidateIsAccepted) {
  auto r = parse(ice_message({{"room_id", "r1"}, {"candidate", nullptr}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type, MsgType::ice_candidate);
  EXPECT_EQ(r.value().room_id, "r1");
  ASSERT_TRUE(r.value().to.has_value());
  EXPECT_EQ(*r.value().to, 9u);
}

TEST(Protocol, CandidateObjectIsAcceptedAsWritten) {
  json candidate = {{"candidate", "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"},
                    {"sdpMid", "0"},
                    {"sdpMLineIndex", 0},
                    {"usernameFragment", "abcd"}};
  json m = ice_message({{"room_id", "r1"}, {"candidate", candidate}});
  auto r = parse(m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(relayed_without_from(m, r.value()), m);
}

// ---- accepted messages ----

TEST(Protocol, CreateRoomWithoutPayload) {
  auto r = parse(std::string(R"({"msg_type":0})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type, MsgType::create_room);
  EXPECT_FALSE(r.value().max_members.has_value());
  EXPECT_FALSE(r.value().to.has_value());
}

TEST(Protocol, CreateRoomWithEmptyPayload) {
  auto r = parse(std::string(R"({"msg_type":0,"payload":{}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().type, MsgType::create_room);
  EXPECT_FALSE(r.value().max_members.has_value());
}

TEST(Protocol, JoinLeaveReadyCarryTheRoomId) {
  const std::pair<int, MsgType> types[] = {
      {1, MsgType::join_room}, {4, MsgType::leave_room}, {10, MsgType::ready}};
  for (auto [n, type] : types) {
    auto r = parse(json{{"msg_type", n}, {"payload", {{"room_id", "abc_-123"}}}});
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(r.value().type, type);
    EXPECT_EQ(r.value().room_id, "abc_-123");
  }
}

TEST(Protocol, UnknownExtraFieldsAreTolerated) {
  auto r = parse(
      json{{"msg_type", 1}, {"payload", {{"room_id", "r1"}, {"extra", 1}}}, {"client_seq", 44}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().room_id, "r1");
}

TEST(Protocol, SdpKeepsTheWholeEnvelope) {
  json m = sdp_message({{"type", "answer"}, {"sdp", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"}});
  m["payload"]["extra"] = {{"nested", json::array({1, 2.5, "x", nullptr})}};
  auto r = parse(m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().room_id, "r1");
  EXPECT_EQ(r.value().to, std::optional<UserId>(9));
  EXPECT_EQ(relayed_without_from(m, r.value()), m);
}

TEST(Protocol, WhitespaceAroundJsonIsFine) {
  auto r = parse(std::string(" \n\t{ \"msg_type\" : 0 }\r\n "));
  EXPECT_TRUE(r.ok());
}

// ---- server messages ----

TEST(Protocol, MakeRelaySetsFromAndKeepsEverythingElse) {
  json original = {{"msg_type", 3},
                   {"to", 9},
                   {"custom", {{"k", json::array({1, "two", 3.25, false, nullptr})}}},
                   {"payload",
                    {{"room_id", "r1"},
                     {"candidate",
                      {{"candidate", "candidate:1 1 udp 1 192.0.2.1 5 typ host"},
                       {"sdpMid", "0"},
                       {"sdpMLineIndex", 0},
                       {"usernameFragment", nullptr}}},
                     {"vendor", {{"big", 12345678901234LL}, {"neg", -3}}}}}};
  auto r = parse(original);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(relayed_without_from(original, r.value()), original);
}

TEST(Protocol, MakeRelayRewritesTheClientsOwnFrom) {
  json original = {{"msg_type", 3},
                   {"from", kSender},
                   {"to", 9},
                   {"payload", {{"room_id", "r"}, {"candidate", nullptr}}}};
  auto r = parse(original);
  ASSERT_TRUE(r.ok());
  json relayed = parse_json(make_relay(original.dump(), r.value(), kSender));
  EXPECT_EQ(relayed["from"], kSender);
  EXPECT_EQ(relayed["payload"], original["payload"]);
  EXPECT_EQ(relayed["to"], 9);
}

TEST(Protocol, MakeErrorCarriesTheOffendingType) {
  json e = parse_json(make_error({SignalError::room_full, "the room is full", 1}));
  EXPECT_EQ(e["msg_type"], 7);
  EXPECT_EQ(e["from"], 0);
  EXPECT_FALSE(e.contains("to"));
  EXPECT_EQ(e["payload"]["code"], "room_full");
  EXPECT_EQ(e["payload"]["message"], "the room is full");
  EXPECT_EQ(e["payload"]["msg_type"], 1);
}

TEST(Protocol, MakeErrorWithUnknownTypeHasNull) {
  json e = parse_json(make_error({SignalError::bad_json, "not valid JSON", std::nullopt}));
  EXPECT_EQ(e["msg_type"], 7);
  EXPECT_EQ(e["payload"]["code"], "bad_json");
  ASSERT_TRUE(e["payload"].contains("msg_type"));
  EXPECT_TRUE(e["payload"]["msg_type"].is_null());
}

TEST(Protocol, ErrorCodesAreTheSpecNames) {
  const std::pair<SignalError, const char*> codes[] = {
      {SignalError::bad_json, "bad_json"},
      {SignalError::bad_envelope, "bad_envelope"},
      {SignalError::bad_payload, "bad_payload"},
      {SignalError::unknown_type, "unknown_type"},
      {SignalError::forbidden, "forbidden"},
      {SignalError::room_not_found, "room_not_found"},
      {SignalError::room_full, "room_full"},
      {SignalError::already_in_room, "already_in_room"},
      {SignalError::not_in_room, "not_in_room"},
      {SignalError::peer_not_in_room, "peer_not_in_room"},
      {SignalError::too_many_rooms, "too_many_rooms"},
      {SignalError::rate_limited, "rate_limited"},
      {SignalError::unavailable, "unavailable"},
  };
  for (auto [code, name] : codes) {
    EXPECT_STREQ(to_string(code), name);
    EXPECT_NE(std::string(describe(code)), "") << name;
  }
}

TEST(Protocol, RoomClosedShape) {
  json m = parse_json(make_room_closed("room-7", "the meeting is over"));
  EXPECT_EQ(m, json({{"msg_type", 13},
                     {"from", 0},
                     {"payload", {{"room_id", "room-7"}, {"reason", "the meeting is over"}}}}));
}

TEST(Protocol, WelcomeShape) {
  json ice = json::array({{{"urls", json::array({"stun:a.example:3478"})}}});
  json w = parse_json(make_welcome(42, "alice", ice, WelcomeSession{"S3ss10n", 30, false, 0, {}}));
  EXPECT_EQ(w["msg_type"], 12);
  EXPECT_EQ(w["from"], 0);
  EXPECT_FALSE(w.contains("to"));
  EXPECT_EQ(w["payload"]["user_id"], 42);
  EXPECT_EQ(w["payload"]["username"], "alice");
  EXPECT_EQ(w["payload"]["ice_servers"], ice);
  EXPECT_EQ(w["payload"]["session"], "S3ss10n");
  EXPECT_EQ(w["payload"]["resume_window"], 30);
  EXPECT_EQ(w["payload"]["resumed"], false);
  // A fresh session's Welcome says nothing of rooms or acknowledgements.
  EXPECT_FALSE(w["payload"].contains("rooms"));
  EXPECT_FALSE(w["payload"].contains("ack"));
}

TEST(Protocol, ResumedWelcomeListsRoomsAndTheAck) {
  WelcomeSession s{"S", 30, true, 17, {{"room-a", 4, {4, 42}}, {"room-b", 42, {42}}}};
  json w = parse_json(make_welcome(42, "alice", json::array(), s));
  EXPECT_EQ(w["payload"]["resumed"], true);
  EXPECT_EQ(w["payload"]["ack"], 17);
  ASSERT_EQ(w["payload"]["rooms"].size(), 2u);
  EXPECT_EQ(w["payload"]["rooms"][0],
            (json{{"room_id", "room-a"}, {"host", 4}, {"members", {4, 42}}}));
  EXPECT_EQ(w["payload"]["rooms"][1]["members"], json({42}));
}

TEST(Protocol, ClientSeqIsReadOnEveryType) {
  auto create = parse_client_message(R"({"msg_type":0,"seq":5})", kSender, 64);
  ASSERT_TRUE(create.ok());
  EXPECT_EQ(create.value().seq, 5u);
  auto none = parse_client_message(R"({"msg_type":0})", kSender, 64);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().seq.has_value());
  for (const char* bad :
       {R"({"msg_type":0,"seq":"5"})", R"({"msg_type":0,"seq":-1})", R"({"msg_type":0,"seq":1.5})",
        R"({"msg_type":2,"to":7,"seq":null,"payload":{"room_id":"r",)"
        R"("candidate":null}})"}) {
    auto r = parse_client_message(bad, kSender, 64);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, SignalError::bad_envelope) << bad;
    EXPECT_EQ(r.error().message, "seq must be an unsigned integer") << bad;
  }
}

TEST(Protocol, WelcomeWithNoIceServersHasAnEmptyList) {
  json w = parse_json(make_welcome(1, "bob", json::array(), WelcomeSession{"S", 0, false, 0, {}}));
  ASSERT_TRUE(w["payload"]["ice_servers"].is_array());
  EXPECT_TRUE(w["payload"]["ice_servers"].empty());
}

TEST(Protocol, RoomCreatedShape) {
  json m = parse_json(make_room_created("room-x", 42));
  EXPECT_EQ(m["msg_type"], 5);
  EXPECT_EQ(m["from"], 0);
  EXPECT_EQ(m["payload"], json({{"room_id", "room-x"}, {"host", 42}}));
}

TEST(Protocol, RoomJoinedShape) {
  json m = parse_json(make_room_joined("room-x", 3, {3, 1, 2}));
  EXPECT_EQ(m["msg_type"], 6);
  EXPECT_EQ(m["from"], 0);
  EXPECT_EQ(m["payload"]["room_id"], "room-x");
  EXPECT_EQ(m["payload"]["host"], 3);
  EXPECT_EQ(m["payload"]["members"], json::array({3, 1, 2}));
}

TEST(Protocol, PeerEventShapes) {
  json joined = parse_json(make_peer_event(MsgType::peer_joined, "room-x", 5));
  EXPECT_EQ(joined["msg_type"], 8);
  EXPECT_EQ(joined["from"], 0);
  EXPECT_EQ(joined["payload"], json({{"room_id", "room-x"}, {"user_id", 5}}));
  json ready = parse_json(make_peer_event(MsgType::peer_ready, "room-x", 5));
  EXPECT_EQ(ready["msg_type"], 11);
  EXPECT_EQ(ready["payload"], json({{"room_id", "room-x"}, {"user_id", 5}}));
  json left = parse_json(make_peer_left("room-x", 5, 6));
  EXPECT_EQ(left["msg_type"], 9);
  EXPECT_EQ(left["from"], 0);
  EXPECT_EQ(left["payload"], json({{"room_id", "room-x"}, {"user_id", 5}, {"host", 6}}));
}

}  // namespace
}  // namespace switchboard

namespace switchboard {
namespace {

TEST(Protocol, RelayFromTextKeepsTheSendersBytes) {
  std::string text =
      R"(  {"msg_type":2, "to":7,"payload":{"room_id":"r","sdp":{"type":"offer","sdp":"v=0 1.50"},"n":1.50}})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  auto relayed = make_relay(text, parsed.value(), 42);
  // The sender's bytes follow the spliced-in `from` unchanged (1.50 stays 1.50).
  EXPECT_EQ(*relayed, "{\"from\":42," + text.substr(3));
  auto j = nlohmann::json::parse(*relayed);
  EXPECT_EQ(j["from"], 42);
  EXPECT_EQ(j["payload"]["sdp"]["sdp"], "v=0 1.50");
}

TEST(Protocol, RelayCutsTheSendersSeqWhereverItIs) {
  for (std::string text : {
           R"({"seq":9,"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null}})",
           R"({"msg_type":3, "seq" : 9 ,"to":7,"payload":{"room_id":"r","candidate":null}})",
           R"({"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null} , "seq":9 })",
       }) {
    auto parsed = parse_client_message(text, 42, 64);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed.value().seq, 9u) << text;
    EXPECT_TRUE(parsed.value().rewritten.empty()) << "the fast path splices: " << text;
    auto relayed = make_relay(text, parsed.value(), 42);
    auto j = nlohmann::json::parse(*relayed);
    EXPECT_FALSE(j.contains("seq")) << *relayed;
    auto expected = nlohmann::json::parse(text);
    expected.erase("seq");
    expected["from"] = 42;
    EXPECT_EQ(j, expected) << *relayed;
    // The full parse (which rewrites) relays the same message.
    auto full = parse_client_message_in_full(text, 42, 64);
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(nlohmann::json::parse(*make_relay(text, full.value(), 42)), expected);
  }
}

TEST(Protocol, RelayFromTextWithOwnFromIsReserialised) {
  std::string text =
      R"({"from":42,"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null}})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  auto j = nlohmann::json::parse(*make_relay(text, parsed.value(), 42));
  EXPECT_EQ(j, nlohmann::json::parse(text));
}

}  // namespace
}  // namespace switchboard

namespace switchboard {
namespace {

TEST(Protocol, RelayFromTextWithDuplicateKeysIsReserialised) {
  std::string text =
      R"({"msg_type":12,"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null}})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  auto relayed = *make_relay(text, parsed.value(), 42);
  // One msg_type only, the one the server checked.
  EXPECT_EQ(relayed.find("\"msg_type\":12"), std::string::npos) << relayed;
  EXPECT_EQ(nlohmann::json::parse(relayed)["msg_type"], 3);
}

}  // namespace
}  // namespace switchboard

namespace switchboard {
namespace {

// The duplicate-key check counts top-level members as written, skipping strings: escaped
// quotes, commas and braces inside a string count for nothing.
TEST(Protocol, RelaySplicesWhenStringsHoldQuotesAndCommas) {
  std::string text =
      R"({"msg_type":3,"note":"say \"hi\", {then} \\","to":7,"payload":{"room_id":"r","candidate":null,"x":"\\\""}})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*make_relay(text, parsed.value(), 42), "{\"from\":42," + text.substr(1));
}

TEST(Protocol, ARewrittenRelayKeepsTheSendersNumbersByteForByte) {
  // nlohmann reads these as the nearest doubles and would print them shortest; re-serialising
  // would change digits the target sees.
  std::string text =
      R"({"from":42,"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null},)"
      R"("x":[219446722136869551615.5, 1e300, 0.1000000000000000055511151231257827]})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  ASSERT_FALSE(parsed.value().rewritten.empty());
  auto relayed = *make_relay(text, parsed.value(), 42);
  EXPECT_NE(
      relayed.find(R"("x":[219446722136869551615.5, 1e300, 0.1000000000000000055511151231257827])"),
      std::string::npos)
      << relayed;
  EXPECT_EQ(relayed.rfind(R"({"from":42,)", 0), 0u) << relayed;
  EXPECT_EQ(relayed.find(R"("from")", 2), std::string::npos) << relayed;  // only once
}

TEST(Protocol, ARewriteReadsEscapedKeysAsTheParserDoes) {
  // "fr\u006fm" is `from`, and "t\u006f" repeats `to`: the parser kept the last `to` (7).
  std::string text =
      R"({"from":42,"to":8,"msg_type":3,"to":7,"payload":{"room_id":"r","candidate":null}})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().to, 7u);
  auto relayed = *make_relay(text, parsed.value(), 42);
  EXPECT_EQ(relayed.find("fr\\u006fm"), std::string::npos) << relayed;
  EXPECT_EQ(relayed.find("\"to\":8"), std::string::npos) << relayed;
  auto j = nlohmann::json::parse(relayed);
  EXPECT_EQ(j["from"], 42);
  EXPECT_EQ(j["to"], 7);
  EXPECT_EQ(j.size(), 4u);  // from, msg_type, to, payload
}

TEST(Protocol, RelayRewritesDuplicateKeysBehindTrickyStrings) {
  std::string text =
      R"({"msg_type":3,"note":"a \", \"to\":9, \\","to":7,"payload":{"room_id":"r","candidate":null},"to":8})";
  auto parsed = parse_client_message(text, 42, 64);
  ASSERT_TRUE(parsed.ok());
  auto relayed = nlohmann::json::parse(*make_relay(text, parsed.value(), 42));
  EXPECT_EQ(relayed["to"], *parsed.value().to);
  EXPECT_EQ(relayed["from"], 42);
  EXPECT_EQ(make_relay(text, parsed.value(), 42)->find("\"to\":7"), std::string::npos);
}

}  // namespace
}  // namespace switchboard
