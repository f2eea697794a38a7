#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/signaling/connection_registry.hpp"
#include "switchboard/signaling/hub.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {

class RoomEvents;

/// The signaling core: takes each client message, applies it to the rooms, and routes the
/// resulting messages to the right connections. One mutex guards the registry and the rooms
/// together, so that "is the sender still connected, is the target in the room, who is host"
/// are answered from one consistent state; it is held only for map work, never while
/// serialising JSON or calling into a session (deliveries happen after it is released).
class SignalingHub : public Hub {
 public:
  explicit SignalingHub(RoomLimits limits, RoomManager::IdGenerator new_room_id = {});

  /// Who is told of rooms created and closed, members joining and leaving (the webhooks), in
  /// the order the rooms changed: called under the lock. Set before the first connection.
  void set_room_events(RoomEvents* events) { events_ = events; }

  void connect(const std::shared_ptr<Peer>& peer) override;
  void disconnect(const Peer& peer) override;
  Handled handle(Peer& peer, std::string_view text) override;
  void revoke_key(UserId user, const std::string& key_hash) override;
  void close_all(CloseCode code, std::string_view reason) override;

  // Answered at once, on the caller's thread: each takes the lock once and sends after it.
  void rooms_of(UserId user, Answer<std::vector<RoomView>> done) override;
  /// Every session of one daemon is here already.
  void bring_session(const Identity&, const std::string&, Answer<Unit> done) override {
    done(Unit{});
  }
  /// RoomManager::page: O(log n + limit).
  void list_rooms(std::string_view after, std::size_t limit,
                  Answer<RoomManager::Page> done) override;
  void room(const std::string& room_id, Answer<std::optional<RoomManager::Detail>> done) override;
  /// A detached session keeps the RoomClosed for its resume.
  void close_room(const std::string& room_id, std::string_view reason,
                  Answer<std::optional<std::vector<UserId>>> done) override;
  void presence(UserId user, Answer<Presence> done) override;
  void disconnect_user(UserId user, CloseCode code, std::string_view reason,
                       Answer<bool> done) override;

  std::size_t connection_count() override;
  /// Read together (walks the rooms under the lock).
  std::optional<RoomTotals> room_totals() override;
  std::size_t room_count();
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
