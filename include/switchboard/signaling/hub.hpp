#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/room_manager.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// The shared state could not be asked (a cluster's Redis is down): Error `unavailable` on a
/// WebSocket, 503 over HTTP. One daemon's hub never fails.
struct HubUnavailable {
  std::string message;  // one line, for the log
};

/// What the daemon asks of its signaling core (protocol sections 2 and 4): one daemon's
/// rooms and connections in memory (SignalingHub), or a cluster's in Redis (ClusterHub). The
/// connections, the sessions, the admin API and the server see only this, so that the same
/// code and the same tests drive both.
///
/// A question about shared state is answered through a callback: at once, on the caller's
/// thread, by one daemon's hub; later, on another thread, by a cluster's. A caller that must
/// act on its own thread posts itself back.
class Hub {
 public:
  template <class T>
  using Answer = std::function<void(Result<T, HubUnavailable>)>;

  /// What became of one client message, for the caller to count (the hub keeps no metrics).
  /// A cluster's hub knows the type at once; what Redis answers later reaches the peer only.
  struct Handled {
    std::optional<int> msg_type;       // as parsed, or the offending one when known
    std::optional<SignalError> error;  // the Error the sender was sent
    bool relayed = false;              // an SDP or ICECandidate went to its target
  };
  /// Whether a user has a session (connected, or detached waiting for a resume) and its rooms.
  struct Presence {
    bool online = false;
    std::vector<RoomView> rooms;
  };
  /// Rooms and their members in all.
  struct RoomTotals {
    std::size_t rooms = 0;
    std::size_t members = 0;
  };

  virtual ~Hub() = default;

  /// Registers a connection that has been sent its Welcome. An older connection of the same
  /// user (wherever it is) leaves its rooms and is closed with 4002.
  virtual void connect(const std::shared_ptr<Peer>& peer) = 0;
  /// The connection is gone: unless a newer one has replaced it, it leaves every room
  /// (PeerLeft to those remaining).
  virtual void disconnect(const Peer& peer) = 0;
  /// Acts on one text message from `peer`, a connected peer. One whose client `seq` the peer
  /// has handled already is dropped (a resend after a resume).
  virtual Handled handle(Peer& peer, std::string_view text) = 0;
  /// Closes (4001) the connection of `user`, wherever it is, if authenticated with `key_hash`.
  virtual void revoke_key(UserId user, const std::string& key_hash) = 0;
  /// Closes every connection of this daemon (shutdown).
  virtual void close_all(CloseCode code, std::string_view reason) = 0;

  /// The rooms `user` is in now (a resumed Welcome lists them).
  virtual void rooms_of(UserId user, Answer<std::vector<RoomView>> done) = 0;
  /// Before a resume of `session_id` by `who` is answered: a cluster's hub brings the session
  /// here when another daemon holds it or it is parked in Redis, so that the resume finds it
  /// among this daemon's sessions. done once it is here, or there is none to bring (the
  /// resume then starts a fresh session). One daemon's hub has nothing to bring.
  virtual void bring_session(const Identity& who, const std::string& session_id,
                             Answer<Unit> done) = 0;

  // The administrator's levers (admin API).

  /// One page of the rooms in room-id order.
  virtual void list_rooms(std::string_view after, std::size_t limit,
                          Answer<RoomManager::Page> done) = 0;
  virtual void room(const std::string& room_id,
                    Answer<std::optional<RoomManager::Detail>> done) = 0;
  /// Closes `room_id`: every member is sent RoomClosed with `reason` and the room is gone,
  /// with no PeerLeft. Its members in join order, or nullopt when there is no such room.
  virtual void close_room(const std::string& room_id, std::string_view reason,
                          Answer<std::optional<std::vector<UserId>>> done) = 0;
  virtual void presence(UserId user, Answer<Presence> done) = 0;
  /// Ends the session of `user`, wherever it is: its connection is closed with `code` and its
  /// rooms are left (PeerLeft, host hand-over). False when it had none.
  virtual void disconnect_user(UserId user, CloseCode code, std::string_view reason,
                               Answer<bool> done) = 0;

  /// This daemon's connections.
  virtual std::size_t connection_count() = 0;
  /// Every room, when this daemon can count them cheaply now (a scrape); nullopt in a
  /// cluster, whose rooms live in Redis.
  virtual std::optional<RoomTotals> room_totals() = 0;
};

/// Memberships as a resumed Welcome and the admin API show them.
inline std::vector<RoomView> room_views(std::vector<RoomManager::Membership> memberships) {
  std::vector<RoomView> out;
  out.reserve(memberships.size());
  for (auto& m : memberships) out.push_back({std::move(m.room_id), m.host, std::move(m.members)});
  return out;
}

}  // namespace switchboard
