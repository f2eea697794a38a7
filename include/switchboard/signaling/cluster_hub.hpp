#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchboard/cluster/cluster_envelope.hpp"
#include "switchboard/cluster/node_mailbox.hpp"
#include "switchboard/cluster/presence_directory.hpp"
#include "switchboard/cluster/redis_room_directory.hpp"
#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {

/// The signaling core of one daemon in a cluster: SignalingHub's rules (protocol sections 2
/// and 4), with the rooms and the users' whereabouts in Redis so that users on different
/// daemons meet as if there were one. Room changes are Lua scripts that also tell the other
/// members' daemons (RedisRoomDirectory); a relay is checked and published to the target's
/// daemon in one script (PresenceDirectory); what other daemons publish for this one arrives
/// through its NodeMailbox and is delivered here to local connections.
///
/// Order: everything a connection sends goes to Redis over one client connection in the
/// order it was read, and Redis runs it in that order, so a Join is in place before the relay
/// that follows it; a room's events leave Redis in the order the room changed.
///
/// When Redis cannot be asked, the sender gets Error `unavailable`; connections stay open.
/// Not here yet (see docs/cluster.md): session resume across daemons, the admin view, and
/// noticing a dead daemon (NodeLiveness) — the daemon will wire those.
class ClusterHub {
 public:
  /// `commands` and `subscriber` are two clients of the same Redis, not started; `node_id`
  /// names this daemon in Redis.
  ClusterHub(std::shared_ptr<RedisClient> commands, std::shared_ptr<RedisClient> subscriber,
             std::string node_id, RoomLimits limits, RoomManager::IdGenerator new_room_id = {});
  ~ClusterHub();

  /// Told when the hub can serve (the command connection is up and this daemon's inbox is
  /// subscribed) and when it no longer can: what /readyz will answer. Set before start().
  void on_state(std::function<void(bool up)> handler) { on_state_ = std::move(handler); }
  /// Starts both clients and the mailbox.
  void start();
  void stop();

  /// Registers a connection that has been sent its Welcome. An older connection of its user,
  /// here or on another daemon, is closed with 4002 and the user leaves every room.
  void connect(const std::shared_ptr<Peer>& peer);
  /// The connection is gone: unless a newer one has replaced it, the user's presence goes and
  /// the user leaves every room (PeerLeft to those remaining, wherever they are).
  void disconnect(const Peer& peer);
  /// Acts on one text message from `peer`; answers and errors reach it later.
  void handle(const std::shared_ptr<Peer>& peer, std::string_view text);
  /// Closes (4001) `user`'s connection, on whichever daemon, if authenticated with `key_hash`.
  void revoke_key(UserId user, const std::string& key_hash);

  std::size_t connection_count();
  const std::string& node_id() const { return node_; }

 private:
  struct Local {
    std::weak_ptr<Peer> peer;
    const Peer* raw = nullptr;
    std::string conn;
  };
  void on_envelope(const ClusterEnvelope& e);
  /// The local connection of `user`, if any (and, when `conn` is given, only that one).
  std::shared_ptr<Peer> local(UserId user, std::string_view conn = {});
  void fail(const std::shared_ptr<Peer>& peer, SignalError error, int msg_type);
  void leave_all(UserId user);

  std::string node_;
  std::size_t max_room_size_;
  std::shared_ptr<RedisClient> commands_;
  std::shared_ptr<RedisClient> subscriber_;
  RedisRoomDirectory rooms_;
  PresenceDirectory presence_;
  NodeMailbox mailbox_;

  void report();

  std::function<void(bool)> on_state_;
  std::mutex state_mutex_;  // taken before mutex_ when both are
  bool commands_up_ = false;
  bool subscribed_ = false;
  bool reported_ = false;  // down until first up

  std::mutex mutex_;
  std::unordered_map<UserId, Local> locals_;
  std::uint64_t next_conn_ = 1;
};

}  // namespace switchboard
