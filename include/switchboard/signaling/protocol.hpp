#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// msg_type values of protocol.md section 2.
enum class MsgType : int {
  create_room = 0,
  join_room = 1,
  sdp = 2,
  ice_candidate = 3,
  leave_room = 4,
  room_created = 5,
  room_joined = 6,
  error = 7,
  peer_joined = 8,
  peer_left = 9,
  ready = 10,
  peer_ready = 11,
  welcome = 12,
  room_closed = 13,
};

/// The Error codes of the protocol, one-to-one.
enum class SignalError {
  bad_json,
  bad_envelope,
  bad_payload,
  unknown_type,
  forbidden,
  room_not_found,
  room_full,
  already_in_room,
  not_in_room,
  peer_not_in_room,
  too_many_rooms,
  rate_limited,
  unavailable,  // what needs a shared service (Redis) cannot be done now (section 6)
};

const char* to_string(SignalError e);
/// A human-readable sentence for the Error message field.
const char* describe(SignalError e);

/// A failure to act on a client message: what goes into the Error payload.
struct SignalFailure {
  SignalError code;
  std::string message;
  std::optional<int> msg_type;  // of the offending message, when known
};

/// A client message that passed the envelope and payload checks.
struct ClientMessage {
  MsgType type{};
  std::string room_id;                     // every type but CreateRoom
  std::optional<std::size_t> max_members;  // CreateRoom
  std::optional<UserId> to;                // SDP, ICECandidate
  std::optional<std::uint64_t> seq;        // the client's own numbering, when it sends one
  /// Where the sender's `seq` member is in the text (with one comma beside it), cut out of a
  /// relay: the target sees its own numbering only. Both 0 when there is none.
  std::size_t seq_begin = 0;
  std::size_t seq_end = 0;
  /// SDP, ICECandidate whose text cannot take a spliced-in `from` (the sender wrote one, or
  /// a key twice): the checked message with `from` set, to relay instead. Usually empty.
  std::string rewritten;
};

/// Room ids we hand out are 22 base64url characters; anything much longer is not ours.
inline constexpr std::size_t kMaxRoomIdLength = 64;

/// Whether `type` is an RTCSdpType a client may relay: offer, answer, pranswer or rollback.
bool is_sdp_type(std::string_view type);

/// Parses and checks one text frame from `sender`. Pure: no state, no I/O. Relays take the
/// fast path of relay_scan.hpp; everything it is unsure of takes the full parse below.
Result<ClientMessage, SignalFailure> parse_client_message(std::string_view text, UserId sender,
                                                          std::size_t max_room_size);
/// The full parse and check, without the fast path: nlohmann's DOM (parse_json, depth-bounded),
/// read in place. The reference the fast path is fuzzed against.
Result<ClientMessage, SignalFailure> parse_client_message_in_full(std::string_view text,
                                                                  UserId sender,
                                                                  std::size_t max_room_size);

using SharedText = std::shared_ptr<const std::string>;

/// Server-to-client messages, serialised once and shared by every recipient.
/// A room as a resumed Welcome lists it.
struct RoomView {
  std::string room_id;
  UserId host = 0;
  std::vector<UserId> members;  // join order
};
/// The session part of a Welcome (protocol.md, "Session resume"); `ack` and `rooms` are
/// sent on a resume only.
struct WelcomeSession {
  std::string id;
  unsigned resume_window = 0;
  bool resumed = false;
  std::uint64_t ack = 0;
  std::vector<RoomView> rooms;
};
SharedText make_welcome(UserId user, const std::string& username, const nlohmann::json& ice,
                        const WelcomeSession& session);
SharedText make_room_created(const std::string& room_id, UserId host);
SharedText make_room_joined(const std::string& room_id, UserId host,
                            const std::vector<UserId>& members);
SharedText make_peer_event(MsgType type, const std::string& room_id, UserId user);
SharedText make_peer_left(const std::string& room_id, UserId user, UserId host);
SharedText make_error(const SignalFailure& failure);
/// RoomClosed (type 13): an administrator closed `room_id`.
SharedText make_room_closed(const std::string& room_id, std::string_view reason);
/// The relayed message, `text` being what parsed into `m`: `from` spliced in front of the
/// sender's bytes, so the target gets the payload byte for byte and the server never
/// re-serialises it (or, when the sender wrote a `from` or a key twice, m.rewritten).
SharedText make_relay(std::string_view text, const ClientMessage& m, UserId sender);

}  // namespace switchboard
