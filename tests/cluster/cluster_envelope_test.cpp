// The envelopes daemons send each other: what our C++ writes reads back the same, what the
// Lua scripts write (cjson, ids as strings) reads, and anything else is refused with a reason.
#include "switchboard/cluster/cluster_envelope.hpp"
#include "switchboard/auth/api_key.hpp"

#include <gtest/gtest.h>

namespace switchboard {
namespace {

ClusterEnvelope round_trip(const ClusterEnvelope& e) {
  auto d = decode_envelope(encode_envelope(e));
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error());
  return d.ok() ? d.value() : ClusterEnvelope{};
}

TEST(ClusterEnvelope, DeliveriesCarryTheirTextAsIs) {
  ClusterEnvelope e;
  e.kind = ClusterEnvelope::Kind::deliver;
  e.to = {7, 18446744073709551615ull};
  e.text = "{\"type\":2,\"sdp\":\"v=0\\r\\n\"}\nD 1\n";
  e.text += '\0';
  e.text += "x\xff";
  auto wire = encode_envelope(e);
  EXPECT_TRUE(wire.starts_with("D 7,18446744073709551615\n"));
  auto back = round_trip(e);
  EXPECT_EQ(back.kind, ClusterEnvelope::Kind::deliver);
  EXPECT_EQ(back.to, e.to);
  EXPECT_EQ(back.text, e.text);
}

TEST(ClusterEnvelope, EveryInstructionReadsBackTheSame) {
  ClusterEnvelope left;
  left.kind = ClusterEnvelope::Kind::room_event;
  left.type = MsgType::peer_left;
  left.room_id = "r1";
  left.user = 5;
  left.host = 6;
  left.to = {6, 8};
  auto l = round_trip(left);
  EXPECT_EQ(l.type, MsgType::peer_left);
  EXPECT_EQ(l.room_id, "r1");
  EXPECT_EQ(l.user, 5u);
  EXPECT_EQ(l.host, 6u);
  EXPECT_EQ(l.to, left.to);

  ClusterEnvelope closed;
  closed.kind = ClusterEnvelope::Kind::room_event;
  closed.type = MsgType::room_closed;
  closed.room_id = "r2";
  closed.reason = "maintenance";
  closed.to = {1};
  auto c = round_trip(closed);
  EXPECT_EQ(c.type, MsgType::room_closed);
  EXPECT_EQ(c.reason, "maintenance");

  ClusterEnvelope replace;
  replace.kind = ClusterEnvelope::Kind::replace;
  replace.user = 9;
  replace.conn = "c-17";
  auto r = round_trip(replace);
  EXPECT_EQ(r.kind, ClusterEnvelope::Kind::replace);
  EXPECT_EQ(r.user, 9u);
  EXPECT_EQ(r.conn, "c-17");

  ClusterEnvelope revoke;
  revoke.kind = ClusterEnvelope::Kind::revoke;
  revoke.user = 3;
  revoke.key_hash = "abc";
  EXPECT_EQ(round_trip(revoke).key_hash, "abc");
  // A real key hash is raw SHA-256 bytes, not UTF-8: it must come back byte for byte, or the
  // other daemons forget and close nothing.
  for (int b = 0; b < 256; ++b) revoke.key_hash += static_cast<char>(b);
  EXPECT_EQ(round_trip(revoke).key_hash, revoke.key_hash);

  ClusterEnvelope close;
  close.kind = ClusterEnvelope::Kind::close;
  close.user = 4;
  close.code = 4003;
  close.reason = "bye";
  auto cl = round_trip(close);
  EXPECT_EQ(cl.code, 4003);
  EXPECT_EQ(cl.reason, "bye");
}

TEST(ClusterEnvelope, ReadsWhatTheScriptsWrite) {
  // cjson's output for {k='room', ev='peer_joined', room='r', user='5', to={'1','2'}}.
  auto d =
      decode_envelope(R"({"to":["1","2"],"user":"5","ev":"peer_joined","k":"room","room":"r"})");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d.value().type, MsgType::peer_joined);
  EXPECT_EQ(d.value().to, (std::vector<UserId>{1, 2}));
  // The joiner's RoomJoined: the room's members in join order, the host first.
  auto joined = decode_envelope(
      R"({"to":["9"],"user":"9","ev":"room_joined","k":"room","room":"r","members":["4","9"]})");
  ASSERT_TRUE(joined.ok()) << joined.error();
  EXPECT_EQ(joined.value().type, MsgType::room_joined);
  EXPECT_EQ(joined.value().members, (std::vector<UserId>{4, 9}));
  EXPECT_EQ(joined.value().host, 4u);
  EXPECT_EQ(round_trip(joined.value()).members, joined.value().members);
  auto replace = decode_envelope(R"({"conn":"c1","k":"replace","user":"12"})");
  ASSERT_TRUE(replace.ok()) << replace.error();
  EXPECT_EQ(replace.value().user, 12u);
}

TEST(ClusterEnvelope, ASessionThatMovesReadsBackTheSame) {
  ClusterEnvelope parked;
  parked.kind = ClusterEnvelope::Kind::parked;
  parked.user = 7;
  parked.conn = "node-1/3";
  parked.session = std::string(64, 'a');
  parked.code = 1012;
  auto p = round_trip(parked);
  EXPECT_EQ(p.kind, ClusterEnvelope::Kind::parked);
  EXPECT_EQ(p.user, 7u);
  EXPECT_EQ(p.conn, "node-1/3");
  EXPECT_EQ(p.session, parked.session);
  EXPECT_EQ(p.code, 1012);

  ClusterEnvelope adopt;
  adopt.kind = ClusterEnvelope::Kind::adopt;
  adopt.user = 7;
  adopt.conn = "node-2/9";
  adopt.session = std::string(64, 'b');
  adopt.next_seq = 12;
  adopt.client_seq = 4;
  adopt.kept = {{9, "{\"msg_type\":3}"}, {11, "with a space and\na newline"}};
  adopt.held = {"D 7\n{\"msg_type\":2}",
                R"({"k":"room","ev":"peer_left","room":"r","user":"5","host":"7","to":["7"]})"};
  auto a = round_trip(adopt);
  EXPECT_EQ(a.kind, ClusterEnvelope::Kind::adopt);
  EXPECT_EQ(a.conn, "node-2/9");
  EXPECT_EQ(a.session, adopt.session);
  EXPECT_EQ(a.next_seq, 12u);
  EXPECT_EQ(a.client_seq, 4u);
  ASSERT_EQ(a.kept.size(), 2u);
  EXPECT_EQ(a.kept[1].seq, 11u);
  EXPECT_EQ(a.kept[1].text, adopt.kept[1].text);
  EXPECT_EQ(a.held, adopt.held);
  // Each held one is an envelope itself.
  for (const auto& h : a.held) EXPECT_TRUE(decode_envelope(h).ok()) << h;

  // As sb_adopt writes it: counts as strings, and cjson's {} for an empty list.
  auto lua = decode_envelope(
      R"({"k":"adopt","user":"7","conn":"n/1","session":"s","next_seq":"1","client_seq":"0","kept":{},"held":{}})");
  ASSERT_TRUE(lua.ok()) << lua.error();
  EXPECT_EQ(lua.value().next_seq, 1u);
  EXPECT_TRUE(lua.value().kept.empty());
  EXPECT_TRUE(lua.value().held.empty());
}

TEST(ClusterEnvelope, RefusesWhatIsNotOne) {
  for (
      std::string_view bad :
      {"",
       "D 1",
       "D \nx",
       "D 1,,2\nx",
       "D x\nx",
       "D -1\nx",
       "D 1 \nx",
       "D 99999999999999999999\nx",
       "[]",
       "{}",
       "nonsense",
       R"({"k":"zap","user":"1"})",
       R"({"k":"replace","user":"1"})",
       R"({"k":"replace","conn":"c"})",
       R"({"k":"replace","user":"x1","conn":"c"})",
       R"({"k":"revoke","user":"1"})",
       R"({"k":"revoke","user":"1","key_hash":"abc"})",
       R"({"k":"revoke","user":"1","key_hash":"zz"})",
       R"({"k":"close","user":"1","code":99})",
       R"({"k":"close","user":"1","code":70000})",
       R"({"k":"close","user":"1"})",
       R"({"k":"parked","user":"1","code":1012,"session":"s"})",
       R"({"k":"parked","user":"1","code":1012,"conn":"c"})",
       R"({"k":"parked","user":"1","conn":"c","session":"s"})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"1","client_seq":"0","kept":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"0","client_seq":"0","kept":[],"held":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"5","client_seq":"x","kept":[],"held":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"5","client_seq":"0","kept":["3 a","2 b"],"held":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"5","client_seq":"0","kept":["5 a"],"held":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"5","client_seq":"0","kept":["nospace"],"held":[]})",
       R"({"k":"adopt","user":"1","conn":"c","session":"s","next_seq":"5","client_seq":"0","kept":[],"held":[1]})",
       R"({"k":"room","user":"1","ev":"peer_joined","room":"r"})",
       R"({"k":"room","user":"1","ev":"sdp","room":"r","to":[]})",
       R"({"k":"room","user":"1","ev":"peer_joined","room":"r","to":["a"]})",
       R"({"k":"room","user":"1","ev":"peer_joined","room":"r","to":[-1]})",
       R"({"k":"room","user":"1","ev":"room_joined","room":"r","to":["1"]})",
       R"({"k":"room","user":"1","ev":"room_joined","room":"r","to":["1"],"members":[]})",
       R"({"k":"room","user":"1","ev":"room_joined","room":"r","to":["1"],"members":["x"]})"}) {
    EXPECT_FALSE(decode_envelope(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace switchboard
