#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/signaling/kept_messages.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// What one daemon tells another over its inbox channel (`sb:inbox:<node>`): a message for
/// users connected there, or an instruction about one of its connections. Written by our C++
/// (encode_envelope) and by the Lua scripts that change rooms and presence, so that a
/// change and the news of it leave Redis in one atomic step, in the order of the changes.
///
/// Two shapes on the wire:
/// - `D <user>[,<user>...]\n<text>`: deliver `text` (a client message, as sent) to those
///   users' connections on the receiving node. Raw, so a relayed SDP is neither escaped nor
///   parsed again on the way.
/// - a JSON object with "k": "room" (a room event for members: the receiving node builds the
///   client message from its fields), "replace" (a newer connection of `user` elsewhere:
///   close `conn` with 4002), "revoke" (close `user`'s connection if authenticated with
///   `key_hash`, sent in hex: 4001) or "close" (close `user`'s connection with `code`). User ids
///   are decimal strings (Lua numbers are doubles).
/// - and for a session that moves between daemons (docs/cluster.md, "Session hand-over"):
///   "parked" (`user`'s session on connection `conn` is parked in Redis now: hand its state
///   over and close its socket with `code`) and "adopt" (the parked session `session`, a
///   SHA-256 in hex, is this node's now, on connection `conn`: its `next_seq`, `client_seq`,
///   the messages it kept and those `held` for it while parked, each an envelope as above).
struct ClusterEnvelope {
  enum class Kind { deliver, room_event, replace, revoke, close, parked, adopt };
  Kind kind = Kind::deliver;
  std::vector<UserId> to;  // deliver, room_event: recipients on the receiving node
  std::string text;        // deliver: the client message
  // room_event: room_joined (to the joiner, with members), peer_joined, peer_ready, peer_left
  // (with host) or room_closed (with reason).
  MsgType type = MsgType::error;
  std::string room_id;
  UserId user = 0;              // room_event: whose event; replace, revoke, close: whose connection
  UserId host = 0;              // room_event peer_left: the host after the departure (0: none)
  std::vector<UserId> members;  // room_event room_joined: join order, the host first
  std::string conn;             // replace: the connection that was replaced; parked, adopt
  std::string key_hash;         // revoke
  std::uint16_t code = 0;       // close, parked
  std::string reason;           // close, room_event room_closed
  std::string session;          // parked, adopt: the session's id hashed (SHA-256, hex)
  std::uint64_t next_seq = 1;   // adopt
  std::uint64_t client_seq = 0;   // adopt
  std::vector<KeptMessage> kept;  // adopt: oldest first
  std::vector<std::string> held;  // adopt: envelopes (deliver or room_event), oldest first
};

std::string encode_envelope(const ClusterEnvelope& e);
/// The envelope in `bytes`, or why it is not one (a bug or a version skew between daemons:
/// the receiver logs it and drops it).
Result<ClusterEnvelope, std::string> decode_envelope(std::string_view bytes);

}  // namespace switchboard
