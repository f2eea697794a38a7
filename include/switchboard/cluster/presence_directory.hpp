#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// Where a user's live connection is: which daemon (node) and which connection on it.
struct PresenceHolder {
  std::string node;
  std::string conn;
};

/// Which daemon holds each user's one live connection, kept in Redis (`sb:presence:<user>`,
/// a hash of node and conn, and `sb:node:<node>:users`, the users of each node, which is what
/// lets the others clean up after a node that died). Claiming a user that another node holds
/// tells that node, in the same script, to close the older connection with 4002: two nodes
/// racing for one user end with exactly one holder, the later claim.
///
/// Also sends relays: a relay is checked (RoomManager::check_relay's rules, and the target
/// must be connected somewhere) and published to the target's node in one script, so relays
/// from one sender reach one target in the order they were sent.
///
/// Callbacks run on the client's strand.
class PresenceDirectory {
 public:
  template <class T>
  using Done = std::function<void(Result<T, RedisError>)>;

  PresenceDirectory(std::shared_ptr<RedisClient> redis, std::string node_id);

  const std::string& node_id() const { return node_; }

  /// `conn` (unique on this node) is now `user`'s connection, of the session whose id hashes
  /// to `session` (SessionParking::session_hash; empty for none), authenticated with the key
  /// whose hash is `key` (hex); both are what a resume on another daemon is checked against.
  /// done gets the previous holder, if any. A previous holder on another node has been sent
  /// "replace" already; one on this node is the caller's to close. A session parked for the
  /// user is over (the new connection has replaced it).
  void claim(UserId user, const std::string& conn, const std::string& session,
             const std::string& key, Done<std::optional<PresenceHolder>> done);
  /// `user`'s connection `conn` has ended: its presence goes, unless a newer connection has
  /// claimed the user since (then nothing changes). done gets whether it went.
  void release(UserId user, const std::string& conn, Done<bool> done);
  /// Whether `user` has a presence: connected to some node, or parked for a resume.
  void present(UserId user, Done<bool> done);
  /// Each user's holder, in the order asked (nullopt: not connected anywhere).
  void locate(const std::vector<UserId>& users,
              Done<std::vector<std::optional<PresenceHolder>>> done);

  /// Sends `text` to `user`'s session whose id hashes to `session`, wherever it is now (on a
  /// node, or parked); nothing when the user has another session by now. For an answer to a
  /// message whose session moved to another daemon before the answer came.
  void send(UserId user, const std::string& session, const std::string& text);

  /// Sends `text` (the relayed client message) from `from` to `to` in `room_id`. done gets
  /// nullopt once it is on its way, or the rule it broke: room_not_found, not_in_room,
  /// peer_not_in_room (also when `to` is in the room but connected nowhere).
  void relay(UserId from, UserId to, const std::string& room_id, const std::string& text,
             Done<std::optional<SignalError>> done);

 private:
  std::shared_ptr<RedisClient> redis_;
  std::string node_;
};

/// Lua functions for room scripts: `sb_fanout(users, event)` publishes `event` (a table
/// that cjson encodes as a ClusterEnvelope of kind "room") once to the inbox of each node
/// holding some of `users`, with "to" set to that node's share of them. What is sent to a
/// parked session waits for it (`sb_hold(sid, payload)`, within its limits); users
/// connected nowhere are skipped. `sb_abandon(sid)` ends a parked session at the next sweep.
/// Prepend it to a script's source.
extern const char* const kFanoutLua;

/// A Lua function for scripts that check a relay: `relay_refusal(room, members, from, to)`
/// (the room's two keys and two user ids) answers RoomManager::check_relay's refusal in its
/// order ('room_not_found', 'not_in_room', 'peer_not_in_room'), or nil when it may go.
extern const char* const kRelayRulesLua;

}  // namespace switchboard
