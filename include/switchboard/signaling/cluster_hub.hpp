#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchboard/cluster/cluster_envelope.hpp"
#include "switchboard/cluster/node_mailbox.hpp"
#include "switchboard/cluster/presence_directory.hpp"
#include "switchboard/cluster/redis_room_directory.hpp"
#include "switchboard/cluster/session_parking.hpp"
#include "switchboard/signaling/hub.hpp"
#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/room_manager.hpp"
#include "switchboard/signaling/session_mover.hpp"

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
/// HubUnavailable; connections stay open.
///
/// Sessions move between daemons through Redis (SessionParking): a resume on another daemon
/// brings the session there (bring_session), and on SIGTERM hand_over_all parks every session
/// of this daemon for a resume elsewhere.
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
  /// The daemon's sessions, which move to and from other daemons. Set before start(); without
  /// it (or with a resume window of 0) no session moves.
  void set_sessions(SessionMover* sessions);
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
  /// Asks Redis for the session (SessionParking::request) and waits for it to arrive through
  /// this daemon's inbox; a request that nothing answers within kBringTimeout (its holder
  /// died) is answered by sweep_parked() with "none".
  void bring_session(const Identity& who, const std::string& session_id,
                     Answer<Unit> done) override;
  static constexpr std::chrono::seconds kBringTimeout{5};
  void list_rooms(std::string_view after, std::size_t limit,
                  Answer<RoomManager::Page> done) override;
  void room(const std::string& room_id, Answer<std::optional<RoomManager::Detail>> done) override;
  void close_room(const std::string& room_id, std::string_view reason,
                  Answer<std::optional<std::vector<UserId>>> done) override;
  /// Online: connected to some daemon of the cluster, or parked for a resume.
  void presence(UserId user, Answer<Presence> done) override;
  /// Tells the user's daemon to close its connection (which ends its session there); a
  /// session parked for a resume ends at the next sweep.
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

  /// A rolling restart (SIGTERM): parks every session of this daemon in Redis, and closes each
  /// socket with 1012 once its session is there, for the client to resume on another daemon.
  /// A session that cannot be parked (Redis down) ends, its socket closed with 1001.
  void hand_over_all();
  /// `done` once every session hand_over_all began with is stored in Redis (or could not
  /// be), on whichever thread finishes last; at once when none is under way.
  void after_hand_over(std::function<void()> done);
  /// Once a second: ends the parked sessions whose time is over (their users leave their
  /// rooms), and answers the bring_session requests that waited too long.
  void sweep_parked();

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
    std::string session;  // SessionParking::session_hash of its session id, "" for none
  };
  /// A resume waiting for its session to arrive (bring_session).
  struct Bringing {
    Identity who;
    std::string session_id;
    std::string conn;
    std::chrono::steady_clock::time_point deadline;
    Answer<Unit> done;
  };
  void on_envelope(const ClusterEnvelope& e);
  /// The client message or room event an envelope carries, as its recipients get it.
  static SharedText render(const ClusterEnvelope& e);
  /// "parked": hands the session over (SessionParking step 2) and closes its socket.
  void hand_off(const ClusterEnvelope& e);
  /// "adopt": the session is this daemon's now; the resume waiting for it goes on.
  void adopt(const ClusterEnvelope& e);
  void finish_hand_over(const std::string& conn);
  std::string next_conn_locked() { return node_ + "/" + std::to_string(next_conn_++); }
  /// The local connection of `user`, if any (and, when `conn` is given, only that one).
  std::shared_ptr<Peer> local(UserId user, std::string_view conn = {});
  /// Where an answer to a client message goes: the peer that sent it while it is this
  /// daemon's, else the session wherever it has moved (PresenceDirectory::send).
  struct Replier {
    std::weak_ptr<Peer> peer;
    UserId user = 0;
    std::string session;
  };
  void reply(const Replier& to, SharedText text);
  void fail(const Replier& to, SignalError error, int msg_type);
  void leave_all(UserId user);

  std::string node_;
  std::size_t max_room_size_;
  std::shared_ptr<RedisClient> commands_;
  std::shared_ptr<RedisClient> subscriber_;
  RedisRoomDirectory rooms_;
  PresenceDirectory presence_;
  SessionParking parking_;
  NodeMailbox mailbox_;
  SessionMover* sessions_ = nullptr;

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
  std::unordered_map<std::string, Bringing> bringing_;  // by session hash
  std::set<std::string> handing_over_;                  // conns hand_over_all waits for
  std::function<void()> handed_over_;
};

}  // namespace switchboard
