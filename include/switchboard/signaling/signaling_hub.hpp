#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/signaling/connection_registry.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {

class RoomEvents;

/// The signaling core: takes each client message, applies it to the rooms, and routes the
/// resulting messages to the right connections. One mutex guards the registry and the rooms
/// together, so that "is the sender still connected, is the target in the room, who is host"
/// are answered from one consistent state; it is held only for map work, never while
/// serialising JSON or calling into a session (deliveries happen after it is released).
class SignalingHub {
 public:
  /// What became of one client message, for the caller to count (the hub keeps no metrics).
  struct Handled {
    std::optional<int> msg_type;       // as parsed, or the offending one when known
    std::optional<SignalError> error;  // the Error the sender was sent
    bool relayed = false;              // an SDP or ICECandidate went to its target
  };

  explicit SignalingHub(RoomLimits limits, RoomManager::IdGenerator new_room_id = {});

  /// Who is told of rooms created and closed, members joining and leaving (the webhooks), in
  /// the order the rooms changed: called under the lock. Set before the first connection.
  void set_room_events(RoomEvents* events) { events_ = events; }

  /// Registers a connection that has been sent its Welcome. An older connection of the same
  /// user leaves its rooms and is closed with 4002.
  void connect(const std::shared_ptr<Peer>& peer);
  /// The connection is gone: it leaves every room (PeerLeft to those remaining).
  void disconnect(const Peer& peer);
  /// Acts on one text message from `peer`. One whose client `seq` the peer has handled
  /// already is dropped (a resend after a resume).
  Handled handle(Peer& peer, std::string_view text);
  /// Closes (4001) the connection of `user` if it was authenticated with `key_hash`.
  void revoke_key(UserId user, const std::string& key_hash);
  /// Closes every connection (shutdown).
  void close_all(CloseCode code, std::string_view reason);

  /// The rooms `user` is in now (a resumed Welcome lists them).
  std::vector<RoomView> rooms_of(UserId user);

  // The administrator's levers (admin API). Each takes the lock once and sends after it.

  /// One page of the rooms in room-id order (RoomManager::page: O(log n + limit)).
  RoomManager::Page list_rooms(std::string_view after, std::size_t limit);
  std::optional<RoomManager::Detail> room(const std::string& room_id);
  /// Closes `room_id`: every member is sent RoomClosed with `reason` (a detached session keeps
  /// it for its resume) and the room is gone, with no PeerLeft. Its members in join order, or
  /// nullopt when there is no such room.
  std::optional<std::vector<UserId>> close_room(const std::string& room_id,
                                                std::string_view reason);
  /// Whether `user` has a session here (connected, or detached waiting for a resume), and
  /// its rooms, read together.
  struct Presence {
    bool online = false;
    std::vector<RoomView> rooms;
  };
  Presence presence(UserId user);
  /// Ends the session of `user`, if any: its connection is closed with `code` and its rooms
  /// are left as on an ended session (PeerLeft, host hand-over). False when it had none.
  bool disconnect_user(UserId user, CloseCode code, std::string_view reason);

  std::size_t connection_count();
  std::size_t room_count();
  /// Rooms and their members in all, read together (a scrape; walks the rooms under the lock).
  struct RoomTotals {
    std::size_t rooms = 0;
    std::size_t members = 0;
  };
  RoomTotals room_totals();
  /// For tests and fuzzers: the room structure is consistent.
  bool invariants_hold();

 private:
  struct Outbox;
  void leave_all_locked(UserId user, Outbox& out);
  /// Tells events_ that `user` left `room_id`, and that the room is gone when it `emptied`.
  void report_departure_locked(const std::string& room_id, UserId user, bool emptied, Outbox& out);
  /// After the lock is released: lets events_ act on what it was told (see RoomEvents).
  void flush_events(const Outbox& out);
  /// The relay's target from `from`'s remembered route, when it is still good: nothing
  /// changed since, same target and room, and the target's session still exists.
  std::shared_ptr<Peer> remembered_route_locked(const Peer& from, UserId to,
                                                const std::string& room_id);

  std::size_t max_room_size_;
  std::mutex mutex_;
  // Moves on with every change to the registry or the rooms (and with every message that
  // may change them): a remembered route from an earlier epoch is looked up again.
  std::uint64_t epoch_ = 1;
  ConnectionRegistry registry_;
  RoomManager rooms_;
  RoomEvents* events_ = nullptr;
};

}  // namespace switchboard
