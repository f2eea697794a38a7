// Fuzzes the signaling core: the bytes drive six users through connect, replace, disconnect,
// rooms, Ready, SDP/ICE relays, spoofed senders and garbage against a SignalingHub whose peers
// record what they are sent. A shadow model of the rooms (join order, hosts, connections)
// predicts every delivery; the target checks that each peer got exactly that, and on the way
// the properties that matter most: a relay carries its real sender and reaches only a member
// of a room the sender shares with it; every host is the first member in join order.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/signaling/signaling_hub.hpp"

namespace {

using json = nlohmann::json;
using switchboard::CloseCode;
using switchboard::MsgType;
using switchboard::UserId;

constexpr int kUsers = 6;
constexpr std::size_t kMaxOps = 96;
// Small limits, so that full rooms and too many rooms are reached quickly.
const switchboard::RoomLimits kLimits{3, 4, 2};

std::string g_trace;  // the operations of the current input, printed on failure

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\noperations:\n%s\n", what.c_str(), g_trace.c_str());
  std::abort();
}

// The message is built only when the check fails: most checks run once per delivery.
#define CHECK(cond, what)    \
  do {                       \
    if (!(cond)) fail(what); \
  } while (false)

/// A connection that records what the hub hands it. Each call also takes the hub's lock
/// (connection_count), so a delivery made while the hub still holds it deadlocks, which
/// libFuzzer reports as a timeout.
class FakePeer final : public switchboard::Peer {
 public:
  FakePeer(UserId user, int serial, switchboard::SignalingHub& hub)
      : Peer(switchboard::Identity{user, "user" + std::to_string(user),
                                   "key" + std::to_string(serial)}),
        serial_(serial),
        hub_(hub) {}

  void deliver(switchboard::SharedText message) override {
    hub_.connection_count();
    CHECK(message != nullptr, "null message delivered");
    inbox.push_back(*message);
  }
  void close(CloseCode code, std::string_view) override {
    hub_.connection_count();
    closes.push_back(code);
  }
  int serial() const { return serial_; }

  std::vector<std::string> inbox;
  std::vector<CloseCode> closes;

 private:
  int serial_;
  switchboard::SignalingHub& hub_;
};

json server_message(MsgType type, json payload) {
  return {{"msg_type", static_cast<int>(type)}, {"from", 0}, {"payload", std::move(payload)}};
}

/// What the rooms should look like, and what each operation should deliver to whom.
class Model {
 public:
  struct Room {
    std::vector<UserId> members;  // join order
    std::size_t max_members = 0;
  };

  std::map<std::string, Room> rooms;
  std::map<UserId, std::vector<std::string>> rooms_of;  // in the order joined
  std::map<UserId, FakePeer*> current;
  int created = 0;

  std::map<const FakePeer*, std::vector<json>> expected;
  std::map<const FakePeer*, std::vector<CloseCode>> expected_closes;

  std::string next_room_id() const { return "r" + std::to_string(created + 1); }

  void expect(UserId user, json message) {
    auto it = current.find(user);
    CHECK(it != current.end(), "model: a room member is not connected");
    expected[it->second].push_back(std::move(message));
  }

  void leave_all(UserId user) {
    auto it = rooms_of.find(user);
    if (it == rooms_of.end()) return;
    auto ids = std::move(it->second);
    rooms_of.erase(it);
    for (const auto& id : ids) depart(id, user);
  }

  void depart(const std::string& id, UserId user) {
    Room& room = rooms.at(id);
    std::erase(room.members, user);
    if (room.members.empty()) {
      rooms.erase(id);
      return;
    }
    json left = server_message(
        MsgType::peer_left, {{"room_id", id}, {"user_id", user}, {"host", room.members.front()}});
    for (UserId m : room.members) expect(m, left);
  }

  void connect(FakePeer* peer) {
    UserId u = peer->user_id();
    auto it = current.find(u);
    if (it != current.end()) {
      FakePeer* old = it->second;
      leave_all(u);
      expected_closes[old].push_back(CloseCode::replaced);
    }
    current[u] = peer;
  }

  void disconnect(FakePeer* peer) {
    UserId u = peer->user_id();
    auto it = current.find(u);
    if (it == current.end() || it->second != peer) return;
    current.erase(it);
    leave_all(u);
  }

  void error(FakePeer* peer, const char* code, json type) {
    expected[peer].push_back(
        server_message(MsgType::error, {{"code", code}, {"message", ""}, {"msg_type", type}}));
  }

  void handle(FakePeer* peer, std::string_view text) {
    UserId u = peer->user_id();
    auto parsed = switchboard::parse_client_message(text, u, kLimits.max_size);
    if (!parsed) {
      const auto& f = parsed.error();
      error(peer, switchboard::to_string(f.code), f.msg_type ? json(*f.msg_type) : json(nullptr));
      return;
    }
    auto it = current.find(u);
    if (it == current.end() || it->second != peer) return;  // replaced or gone: ignored
    const auto& m = parsed.value();
    int type = static_cast<int>(m.type);
    auto room_it = rooms.find(m.room_id);
    bool exists = room_it != rooms.end();
    auto is_member = [&](UserId who) {
      return exists && std::find(room_it->second.members.begin(), room_it->second.members.end(),
                                 who) != room_it->second.members.end();
    };
    std::size_t mine = rooms_of.contains(u) ? rooms_of[u].size() : 0;
    switch (m.type) {
      case MsgType::create_room: {
        if (mine >= kLimits.rooms_per_user) return error(peer, "too_many_rooms", type);
        std::string id = next_room_id();
        ++created;
        rooms[id] =
            Room{{u}, std::min(m.max_members.value_or(kLimits.default_size), kLimits.max_size)};
        rooms_of[u].push_back(id);
        expect(u, server_message(MsgType::room_created, {{"room_id", id}, {"host", u}}));
        return;
      }
      case MsgType::join_room: {
        if (!exists) return error(peer, "room_not_found", type);
        Room& room = room_it->second;
        if (is_member(u)) return error(peer, "already_in_room", type);
        if (room.members.size() >= room.max_members) return error(peer, "room_full", type);
        if (mine >= kLimits.rooms_per_user) return error(peer, "too_many_rooms", type);
        room.members.push_back(u);
        rooms_of[u].push_back(m.room_id);
        expect(u, server_message(MsgType::room_joined, {{"room_id", m.room_id},
                                                        {"host", room.members.front()},
                                                        {"members", room.members}}));
        for (UserId other : room.members) {
          if (other != u) {
            expect(other,
                   server_message(MsgType::peer_joined, {{"room_id", m.room_id}, {"user_id", u}}));
          }
        }
        return;
      }
      case MsgType::leave_room: {
        if (!exists) return error(peer, "room_not_found", type);
        if (!is_member(u)) return error(peer, "not_in_room", type);
        std::erase(rooms_of[u], m.room_id);
        if (rooms_of[u].empty()) rooms_of.erase(u);
        depart(m.room_id, u);
        return;
      }
      case MsgType::ready: {
        if (!exists) return error(peer, "room_not_found", type);
        if (!is_member(u)) return error(peer, "not_in_room", type);
        for (UserId other : room_it->second.members) {
          if (other != u) {
            expect(other,
                   server_message(MsgType::peer_ready, {{"room_id", m.room_id}, {"user_id", u}}));
          }
        }
        return;
      }
      case MsgType::sdp:
      case MsgType::ice_candidate: {
        if (!exists) return error(peer, "room_not_found", type);
        if (!is_member(u)) return error(peer, "not_in_room", type);
        if (!is_member(*m.to) || !current.contains(*m.to)) {
          return error(peer, "peer_not_in_room", type);
        }
        // What the sender wrote (nlohmann and the daemon's parser agree on JSON the ops
        // build), with the server's `from`.
        json relayed = json::parse(text, nullptr, false);
        if (relayed.is_discarded()) fail("model: a relayed message that nlohmann cannot read");
        relayed["from"] = u;
        // Through text and back, as the peer will see it (non-finite numbers become null).
        expect(*m.to, json::parse(relayed.dump()));
        return;
      }
      default:
        fail("model: parse_client_message admitted a server type");
    }
  }
};

/// Checks what one operation delivered against the model, then clears the record.
void settle(Model& model, const std::vector<std::shared_ptr<FakePeer>>& peers,
            switchboard::SignalingHub& hub, UserId sender) {
  std::size_t delivered = 0;
  for (const auto& p : peers) {
    auto& want = model.expected[p.get()];
    auto who = [&p] {
      return "peer #" + std::to_string(p->serial()) + " (user " + std::to_string(p->user_id()) +
             ")";
    };
    CHECK(p->inbox.size() == want.size(),
          who() + " got " + std::to_string(p->inbox.size()) + " messages, expected " +
              std::to_string(want.size()) +
              (p->inbox.empty() ? std::string() : "; first: " + p->inbox.front()));
    for (std::size_t i = 0; i < want.size(); ++i) {
      json got = json::parse(p->inbox[i], nullptr, false);
      CHECK(!got.is_discarded() && got.is_object(), who() + " got non-JSON: " + p->inbox[i]);
      int type = got.value("msg_type", -1);
      CHECK(got.contains("from") && got["from"].is_number_unsigned(), who() + " no from");
      if (type == static_cast<int>(MsgType::sdp) ||
          type == static_cast<int>(MsgType::ice_candidate)) {
        // The properties at the heart of the relay, checked on their own as well.
        CHECK(got["from"] == sender,
              who() + " got a relay whose from is not its sender: " + p->inbox[i]);
        auto cur = model.current.find(p->user_id());
        CHECK(cur != model.current.end() && cur->second == p.get(),
              who() + " is not its user's connection but got a relay");
      } else {
        CHECK(got["from"] == 0, who() + " got a server message with from != 0");
      }
      if (type == static_cast<int>(MsgType::peer_left) ||
          type == static_cast<int>(MsgType::room_joined)) {
        auto room = model.rooms.find(got["payload"].value("room_id", ""));
        CHECK(room != model.rooms.end() && got["payload"]["host"] == room->second.members.front(),
              who() + " was told a host that is not the first member: " + p->inbox[i]);
      }
      if (type == static_cast<int>(MsgType::error)) {
        auto& payload = got["payload"];
        CHECK(payload.contains("message") && payload["message"].is_string() &&
                  !payload["message"].get_ref<const std::string&>().empty(),
              who() + " got an Error without a message");
        payload["message"] = "";
      }
      CHECK(got == want[i], who() + " message " + std::to_string(i) + " is\n  " + got.dump() +
                                "\nexpected\n  " + want[i].dump());
    }
    for (const auto& text : p->inbox) {
      g_trace += "    #" + std::to_string(p->serial()) + " got " + text.substr(0, 200) + "\n";
    }
    delivered += p->inbox.size();
    p->inbox.clear();
    auto& closes = model.expected_closes[p.get()];
    CHECK(p->closes == closes, who() + " closes differ from the model");
    p->closes.clear();
  }
  model.expected.clear();
  model.expected_closes.clear();
  // No operation reaches more than the members of the rooms one user can be in.
  CHECK(delivered <= kLimits.max_size * kLimits.rooms_per_user + 1, "too many deliveries");
  CHECK(hub.invariants_hold(), "hub invariants");
  CHECK(hub.room_count() == model.rooms.size(), "room count differs from the model");
  CHECK(hub.connection_count() == model.current.size(), "connection count differs");
  for (const auto& [id, room] : model.rooms) {
    CHECK(!room.members.empty() && room.members.size() <= room.max_members, "model room bounds");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  int rooms_made = 0;
  switchboard::SignalingHub hub(kLimits,
                                [&rooms_made] { return "r" + std::to_string(++rooms_made); });
  Model model;
  // Every peer ever made, kept alive: the hub holds only weak references.
  std::vector<std::shared_ptr<FakePeer>> peers;
  std::vector<std::string> seen_rooms = {"nosuchroom"};
  g_trace.clear();

  auto room_pick = [&] {
    auto i = in.ConsumeIntegralInRange<std::size_t>(0, seen_rooms.size() - 1);
    return seen_rooms[i];
  };
  auto sender_of = [&](UserId u) -> FakePeer* {
    auto it = model.current.find(u);
    return it == model.current.end() ? nullptr : it->second;
  };

  for (std::size_t op = 0; op < kMaxOps && in.remaining_bytes() > 0; ++op) {
    auto kind = in.ConsumeIntegralInRange<int>(0, 11);
    UserId u = in.ConsumeIntegralInRange<UserId>(1, kUsers);
    UserId v = in.ConsumeIntegralInRange<UserId>(1, kUsers);
    FakePeer* peer = sender_of(u);
    std::string text;
    switch (kind) {
      case 0: {  // connect, replacing any current connection of u
        peers.push_back(std::make_shared<FakePeer>(u, static_cast<int>(peers.size()), hub));
        FakePeer* fresh = peers.back().get();
        g_trace +=
            "connect user " + std::to_string(u) + " as #" + std::to_string(fresh->serial()) + "\n";
        model.connect(fresh);
        hub.connect(peers.back());
        settle(model, peers, hub, 0);
        continue;
      }
      case 1: {  // disconnect: the current peer, or a stale one (which must change nothing)
        FakePeer* target = peer;
        if (in.ConsumeBool() && !peers.empty()) {
          target = peers[in.ConsumeIntegralInRange<std::size_t>(0, peers.size() - 1)].get();
        }
        if (!target) continue;
        g_trace += "disconnect #" + std::to_string(target->serial()) + "\n";
        model.disconnect(target);
        hub.disconnect(*target);
        settle(model, peers, hub, 0);
        continue;
      }
      case 2: {
        json payload = json::object();
        if (in.ConsumeBool()) payload["max_members"] = in.ConsumeIntegralInRange<int>(0, 6);
        text = json{{"msg_type", 0}, {"payload", payload}}.dump();
        break;
      }
      case 3:
        text = json{{"msg_type", 1}, {"payload", {{"room_id", room_pick()}}}}.dump();
        break;
      case 4:
        text = json{{"msg_type", 4}, {"payload", {{"room_id", room_pick()}}}}.dump();
        break;
      case 5:
        text = json{{"msg_type", 10}, {"payload", {{"room_id", room_pick()}}}}.dump();
        break;
      case 6:
      case 7:
      case 8: {  // SDP or ICE to v; with kind 8, a `from` that may be someone else's
        json m;
        if (in.ConsumeBool()) {
          m = {{"msg_type", 2},
               {"to", v},
               {"payload",
                {{"room_id", room_pick()},
                 {"sdp", {{"type", in.ConsumeBool() ? "offer" : "answer"}, {"sdp", "v=0\r\n"}}},
                 {"seq", op}}}};
        } else {
          json candidate = in.ConsumeBool()
                               ? json(nullptr)
                               : json{{"candidate", "candidate:1 1 udp 1 10.0.0.1 9 typ host"},
                                      {"sdpMid", "0"},
                                      {"sdpMLineIndex", 0}};
          m = {{"msg_type", 3},
               {"to", v},
               {"payload", {{"room_id", room_pick()}, {"candidate", candidate}}},
               {"extra", {{"kept", true}}}};
        }
        if (kind == 8) m["from"] = in.ConsumeIntegralInRange<UserId>(0, kUsers);
        text = m.dump();
        break;
      }
      case 9:  // bytes of the fuzzer's choosing
        text = in.ConsumeRandomLengthString(512);
        break;
      case 10: {  // a message from a stale (replaced or disconnected) peer
        if (peers.empty()) continue;
        peer = peers[in.ConsumeIntegralInRange<std::size_t>(0, peers.size() - 1)].get();
        text = json{{"msg_type", 1}, {"payload", {{"room_id", room_pick()}}}}.dump();
        if (in.ConsumeBool()) text = in.ConsumeRandomLengthString(128);
        break;
      }
      default:  // Ready for every room the user is in: a small burst
        if (!peer || !model.rooms_of.contains(u)) continue;
        text = json{{"msg_type", 10}, {"payload", {{"room_id", model.rooms_of[u].front()}}}}.dump();
        break;
    }
    if (!peer) continue;
    g_trace += "#" + std::to_string(peer->serial()) + " (user " + std::to_string(peer->user_id()) +
               ") sends " + text.substr(0, 300) + "\n";
    int before = model.created;
    model.handle(peer, text);
    hub.handle(*peer, text);
    for (int i = before; i < model.created; ++i) seen_rooms.push_back("r" + std::to_string(i + 1));
    settle(model, peers, hub, peer->user_id());
  }
  // Everyone leaves: the hub must end empty.
  for (UserId u = 1; u <= kUsers; ++u) {
    if (FakePeer* p = sender_of(u)) {
      g_trace += "at the end, disconnect #" + std::to_string(p->serial()) + "\n";
      model.disconnect(p);
      hub.disconnect(*p);
      settle(model, peers, hub, 0);
    }
  }
  CHECK(hub.room_count() == 0 && hub.connection_count() == 0, "hub not empty at the end");
  // For writing seeds: FUZZ_TRACE=1 prints what an input does.
  if (std::getenv("FUZZ_TRACE")) std::fprintf(stderr, "%s", g_trace.c_str());
  return 0;
}
