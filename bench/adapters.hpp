#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::bench {

/// Which server the generator talks to.
enum class ServerKind { switchboard, peerjs };

/// One client identity: a registered user (switchboard) or a peer id and token (PeerJS).
struct Account {
  std::string name;      // switchboard username, or PeerJS peer id
  std::string secret;    // switchboard API key, or PeerJS token
  std::uint64_t id = 0;  // switchboard user id (unused for PeerJS)
};

/// The two relayed message sizes of a WebRTC negotiation.
enum class RelayKind { sdp, ice };

/// What a received text message is, as far as the generator needs to know.
struct Incoming {
  enum class Kind {
    relay,         // a relayed SDP/ICE message carrying our timestamp
    welcome,       // the connection is ready (switchboard Welcome, PeerJS OPEN)
    room_created,  // switchboard only
    room_joined,
    peer_joined,
    peer_left,
    error,  // switchboard Error; PeerJS ERROR, ID-TAKEN, EXPIRE, LEAVE
    other,
  };
  Kind kind = Kind::other;
  std::int64_t sent_ns = 0;  // relay: the sender's timestamp
  std::string room_id;       // room_created
  std::string detail;        // error: what the server said
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Speaks one server's wire protocol: how to connect, what to send, how to read the answers.
/// Relay messages are built as a fixed prefix (computed once per direction) followed by the
/// timestamp and a fixed suffix, so the generator's per-message work is one string append.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual ServerKind kind() const = 0;
  virtual std::string name() const = 0;
  /// The request target of the WebSocket upgrade.
  virtual std::string ws_target(const Account& me) const = 0;
  virtual Headers ws_headers(const Account& me) const = 0;
  /// Everything of a relay message up to its timestamp; the message is
  /// `prefix + std::to_string(ns) + relay_suffix()`.
  virtual std::string relay_prefix(RelayKind kind, const Account& to,
                                   const std::string& room_id) const = 0;
  std::string_view relay_suffix() const { return "}}"; }
  virtual Incoming classify(std::string_view text) const = 0;
  virtual bool has_rooms() const = 0;
  virtual std::string create_room() const = 0;
  virtual std::string join_room(const std::string& room_id) const = 0;
  virtual std::string leave_room(const std::string& room_id) const = 0;
};

std::unique_ptr<Adapter> make_adapter(ServerKind kind);

/// A JSON-escaped SDP offer of about `bytes` bytes (escaped length).
std::string make_sdp_text(std::size_t bytes);
/// A JSON RTCIceCandidateInit object as a browser sends it.
std::string make_candidate_json();

}  // namespace switchboard::bench
