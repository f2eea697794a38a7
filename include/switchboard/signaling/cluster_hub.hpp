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
#include "switchboard/signaling/hub.hpp"
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
/// When Redis cannot be asked, the sender gets Error `unavailable` and an admin question
/// HubUnavailable; connections stay open. Not here yet (see docs/cluster.md): session resume
/// across daemons and the hand-over on SIGTERM.
class ClusterHub : public Hub {
 public:
  /// `commands` and `subscriber` are two clients of the same Redis, not started; `node_id`
  /// names this daemon in Redis.
  ClusterHub(std::shared_ptr<RedisClient> commands, std::shared_ptr<RedisClient> subscriber,
             std::string node_id, RoomLimits limits, RoomManager::IdGenerator new_room_id = {});
  ~ClusterHub() override;

  /// Told when the hub can serve (the command connection is up and this daemon's inbox is
  /// subscribed) and when it no longer can: what /readyz answers. Set before start().
  void on_state(std::function<void(bool up)> handler) { on_state_ = std::move(handler); }
  /// Starts both clients and the mailbox.
  void start();
  void stop();

  void connect(const std::shared_ptr<Peer>& peer) override;
  void disconnect(const Peer& peer) override;
  /// Answers and errors reach `peer` later; Handled has the type and the parse error only.
  Handled handle(Peer& peer, std::string_view text) override;
  void revoke_key(UserId user, const std::string& key_hash) override;
  void close_all(CloseCode code, std::string_view reason) override;

  // Answered later, on the command client's strand.
  void rooms_of(UserId user, Answer<std::vector<RoomView>> done) override;
  void list_rooms(std::string_view after, std::size_t limit,
                  Answer<RoomManager::Page> done) override;
  void room(const std::string& room_id, Answer<std::optional<RoomManager::Detail>> done) override;
  void close_room(const std::string& room_id, std::string_view reason,
                  Answer<std::optional<std::vector<UserId>>> done) override;
  /// Online: connected to some daemon of the cluster.
  void presence(UserId user, Answer<Presence> done) override;
  /// Tells the user's daemon to close its connection (which ends its session there).
  void disconnect_user(UserId user, CloseCode code, std::string_view reason,
                       Answer<bool> done) override;

  std::size_t connection_count() override;
  std::optional<RoomTotals> room_totals() override { return std::nullopt; }

  /// Another daemon died (NodeLiveness::on_dead): each of `users` whose presence it still
  /// holds leaves every room (PeerLeft and host hand-over reach the others, wherever they
  /// are); then `finished`. A user who has connected elsewhere since keeps its rooms.
  void reap(const std::string& dead_node, const std::vector<UserId>& users,
            std::function<void()> finished);

  /// Told of each outcome Redis answers later (an Error sent, or a relay on its way), for
  /// the metrics that handle()'s Handled cannot carry. Set before start(); any thread.
  void on_outcome(std::function<void(int msg_type, std::optional<SignalError> error)> h) {
    on_outcome_ = std::move(h);
  }

  /// Told of every key revoked on any daemon (revoke_key's broadcast, this daemon's own
  /// included), before its connection is closed. Set before start().
  void on_key_revoked(std::function<void(UserId, const std::string& key_hash)> h) {
    on_key_revoked_ = std::move(h);
  }

  /// This daemon's users are connected here: claimed again in Redis (after Redis came back,
  /// or after this node's heartbeat lapsed and the others may have reaped them).
  void reclaim_presence();

  const std::string& node_id() const { return node_; }
  /// The command connection, shared with NodeLiveness.
  const std::shared_ptr<RedisClient>& commands() const { return commands_; }

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
  std::function<void(int, std::optional<SignalError>)> on_outcome_;
  std::function<void(UserId, const std::string&)> on_key_revoked_;
  std::mutex state_mutex_;  // taken before mutex_ when both are
  bool commands_up_ = false;
  bool subscribed_ = false;
  bool reported_ = false;  // down until first up

  std::mutex mutex_;
  std::unordered_map<UserId, Local> locals_;
  std::uint64_t next_conn_ = 1;
};

}  // namespace switchboard
