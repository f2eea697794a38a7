#include "adapters.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace switchboard::bench {

namespace {

constexpr std::string_view kTimestampKey = "\"bts\":";

/// Reads the timestamp that every relay message carries, without parsing the JSON: both
/// servers serialise integers without spaces, and the key occurs nowhere else. Searched from
/// the end, where it is: from the start, a 3 KB offer was read through for it.
bool find_timestamp(std::string_view text, std::int64_t& out) {
  auto at = text.rfind(kTimestampKey);
  if (at == std::string_view::npos) return false;
  const char* first = text.data() + at + kTimestampKey.size();
  const char* last = text.data() + text.size();
  return std::from_chars(first, last, out).ec == std::errc{};
}

/// switchboard: envelopes with integer msg_type, rooms, API key in a header.
class SwitchboardAdapter final : public Adapter {
 public:
  SwitchboardAdapter() : sdp_(make_sdp_text(2900)), candidate_(make_candidate_json()) {}

  ServerKind kind() const override { return ServerKind::switchboard; }
  std::string name() const override { return "switchboard"; }
  std::string ws_target(const Account&) const override { return "/ws"; }
  Headers ws_headers(const Account& me) const override { return {{"X-API-Key", me.secret}}; }

  std::string relay_prefix(RelayKind kind, const Account& to,
                           const std::string& room_id) const override {
    std::string head = "{\"msg_type\":" + std::string(kind == RelayKind::sdp ? "2" : "3") +
                       ",\"to\":" + std::to_string(to.id) + ",\"payload\":{\"room_id\":\"" +
                       room_id + "\",";
    if (kind == RelayKind::sdp) {
      return head + "\"sdp\":{\"type\":\"offer\",\"sdp\":\"" + sdp_ + "\"}," +
             std::string(kTimestampKey);
    }
    return head + "\"candidate\":" + candidate_ + "," + std::string(kTimestampKey);
  }

  Incoming classify(std::string_view text) const override {
    Incoming in;
    if (find_timestamp(text, in.sent_ns)) {
      in.kind = Incoming::Kind::relay;
      return in;
    }
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("msg_type") || !j["msg_type"].is_number_integer()) {
      in.kind = Incoming::Kind::error;
      in.detail = "unreadable message: " + std::string(text.substr(0, 200));
      return in;
    }
    const auto& payload = j.contains("payload") ? j["payload"] : nlohmann::json::object();
    switch (j["msg_type"].get<int>()) {
      case 12:
        in.kind = Incoming::Kind::welcome;
        break;
      case 5:
        in.kind = Incoming::Kind::room_created;
        in.room_id = payload.value("room_id", "");
        break;
      case 6:
        in.kind = Incoming::Kind::room_joined;
        break;
      case 8:
        in.kind = Incoming::Kind::peer_joined;
        break;
      case 9:
        in.kind = Incoming::Kind::peer_left;
        break;
      case 7:
        in.kind = Incoming::Kind::error;
        in.detail = payload.dump();
        break;
      default:
        break;
    }
    return in;
  }

  bool has_rooms() const override { return true; }
  std::string create_room() const override { return R"({"msg_type":0,"payload":{}})"; }
  std::string join_room(const std::string& room_id) const override {
    return R"({"msg_type":1,"payload":{"room_id":")" + room_id + "\"}}";
  }
  std::string leave_room(const std::string& room_id) const override {
    return R"({"msg_type":4,"payload":{"room_id":")" + room_id + "\"}}";
  }

 private:
  std::string sdp_;
  std::string candidate_;
};

/// PeerJS server 1.0.2: `{type, dst, payload}` messages addressed by peer id; the server
/// adds `src` and forwards `{type, src, dst, payload}` (lib/messageHandler). No rooms.
class PeerJsAdapter final : public Adapter {
 public:
  PeerJsAdapter() : sdp_(make_sdp_text(2900)), candidate_(make_candidate_json()) {}

  ServerKind kind() const override { return ServerKind::peerjs; }
  std::string name() const override { return "peerjs"; }
  std::string ws_target(const Account& me) const override {
    return "/peerjs?key=peerjs&id=" + me.name + "&token=" + me.secret;
  }
  Headers ws_headers(const Account&) const override { return {}; }

  // The payload is what the peerjs client library sends (lib/negotiator.ts): the SDP or
  // candidate, the connection type and id, plus our timestamp.
  std::string relay_prefix(RelayKind kind, const Account& to, const std::string&) const override {
    if (kind == RelayKind::sdp) {
      return R"({"type":"OFFER","dst":")" + to.name +
             R"(","payload":{"sdp":{"type":"offer","sdp":")" + sdp_ +
             R"("},"type":"media","connectionId":"mc_bench0000000","browser":"chrome",)" +
             std::string(kTimestampKey);
    }
    return R"({"type":"CANDIDATE","dst":")" + to.name + R"(","payload":{"candidate":)" +
           candidate_ + R"(,"type":"media","connectionId":"mc_bench0000000",)" +
           std::string(kTimestampKey);
  }

  Incoming classify(std::string_view text) const override {
    Incoming in;
    if (find_timestamp(text, in.sent_ns)) {
      in.kind = Incoming::Kind::relay;
      return in;
    }
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
      in.kind = Incoming::Kind::error;
      in.detail = "unreadable message: " + std::string(text.substr(0, 200));
      return in;
    }
    auto type = j["type"].get<std::string>();
    if (type == "OPEN") {
      in.kind = Incoming::Kind::welcome;
    } else if (type == "ERROR" || type == "ID-TAKEN" || type == "EXPIRE" || type == "LEAVE") {
      in.kind = Incoming::Kind::error;
      in.detail = std::string(text.substr(0, 200));
    }
    return in;
  }

  bool has_rooms() const override { return false; }
  std::string create_room() const override { return {}; }
  std::string join_room(const std::string&) const override { return {}; }
  std::string leave_room(const std::string&) const override { return {}; }

 private:
  std::string sdp_;
  std::string candidate_;
};

}  // namespace

std::unique_ptr<Adapter> make_adapter(ServerKind kind) {
  if (kind == ServerKind::peerjs) return std::make_unique<PeerJsAdapter>();
  return std::make_unique<SwitchboardAdapter>();
}

std::string make_sdp_text(std::size_t bytes) {
  // A Chrome-like audio+video offer; media lines repeat until the size is reached. Line ends
  // are written as JSON escapes, as they travel on the wire.
  std::string sdp =
      "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"
      "a=group:BUNDLE 0 1\\r\\na=extmap-allow-mixed\\r\\na=msid-semantic: WMS stream\\r\\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\\r\\nc=IN IP4 0.0.0.0\\r\\n"
      "a=rtcp:9 IN IP4 0.0.0.0\\r\\na=ice-ufrag:EsAw\\r\\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\\r\\n"
      "a=ice-options:trickle\\r\\na=fingerprint:sha-256 "
      "D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:54:39:0C:06:8B:ED:96:"
      "86:00:39\\r\\na=setup:actpass\\r\\na=mid:0\\r\\n";
  int pt = 96;
  while (sdp.size() + 80 < bytes) {
    sdp += "a=rtpmap:" + std::to_string(pt) + " VP8/90000\\r\\na=rtcp-fb:" + std::to_string(pt) +
           " nack pli\\r\\na=fmtp:" + std::to_string(pt) + " apt=" + std::to_string(pt + 1) +
           "\\r\\n";
    ++pt;
  }
  while (sdp.size() < bytes) sdp += "a=x\\r\\n";
  return sdp;
}

std::string make_candidate_json() {
  return R"({"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx )"
         R"(raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost )"
         R"(10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"EsAw"})";
}

}  // namespace switchboard::bench
