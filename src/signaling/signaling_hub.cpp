#include "switchboard/signaling/signaling_hub.hpp"

#include "switchboard/signaling/room_events.hpp"
#include "switchboard/util/logging.hpp"

namespace switchboard {

/// Messages decided under the lock and sent after it is released.
struct SignalingHub::Outbox {
  std::vector<std::pair<std::shared_ptr<Peer>, SharedText>> items;
  bool reported = false;  // events_ was told of a change: flush it after the lock

  void add(std::shared_ptr<Peer> to, SharedText message) {
    if (to) items.emplace_back(std::move(to), std::move(message));
  }
  void send() {
    for (auto& [peer, message] : items) peer->deliver(std::move(message));
  }
};

SignalingHub::SignalingHub(RoomLimits limits, RoomManager::IdGenerator new_room_id)
    : max_room_size_(limits.max_size), rooms_(limits, std::move(new_room_id)) {}

void SignalingHub::report_departure_locked(const std::string& room_id, UserId user, bool emptied,
                                           Outbox& out) {
  if (!events_) return;
  events_->peer_left(room_id, user);
  if (emptied) events_->room_closed(room_id, "empty");
  out.reported = true;
}

void SignalingHub::flush_events(const Outbox& out) {
  if (out.reported) events_->flush();
}

void SignalingHub::leave_all_locked(UserId user, Outbox& out) {
  for (const auto& d : rooms_.leave_all(user)) {
    report_departure_locked(d.room_id, user, d.remaining.empty(), out);
    if (d.remaining.empty()) continue;
    auto message = make_peer_left(d.room_id, user, d.host);
    for (UserId m : d.remaining) out.add(registry_.find(m), message);
  }
}

void SignalingHub::connect(const std::shared_ptr<Peer>& peer) {
  Outbox out;
  std::shared_ptr<Peer> previous;
  {
    std::lock_guard lock(mutex_);
    ++epoch_;
    previous = registry_.replace(peer);
    if (previous) leave_all_locked(peer->user_id(), out);
  }
  out.send();
  flush_events(out);
  if (previous) previous->close(CloseCode::replaced, "replaced by a newer connection");
}

void SignalingHub::disconnect(const Peer& peer) {
  Outbox out;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.remove(peer)) return;  // replaced: its rooms were left then
    ++epoch_;
    leave_all_locked(peer.user_id(), out);
  }
  out.send();
  flush_events(out);
}

SignalingHub::Handled SignalingHub::handle(Peer& peer, std::string_view text) {
  UserId me = peer.user_id();
  auto parsed = parse_client_message(text, me, max_room_size_);
  if (!parsed) {
    peer.deliver(make_error(parsed.error()));
    return {parsed.error().msg_type, parsed.error().code, false};
  }
  ClientMessage& m = parsed.value();
  int type = static_cast<int>(m.type);
  if (m.seq && !peer.accept_client_seq(*m.seq)) return {type, std::nullopt, false};
  Outbox out;
  std::shared_ptr<Peer> relay_target;
  std::optional<SignalError> error;
  bool relay = m.type == MsgType::sdp || m.type == MsgType::ice_candidate;
  {
    std::lock_guard lock(mutex_);
    // The usual relay goes where the sender's last one went, checked then.
    if (relay) relay_target = remembered_route_locked(peer, *m.to, m.room_id);
    if (!relay_target) {
      // A connection that has just been replaced may still have messages in flight; they
      // belong to a session that no longer speaks for its user.
      if (!registry_.is_current(peer)) return {type, std::nullopt, false};
      if (!relay) ++epoch_;
      switch (m.type) {
        case MsgType::create_room: {
          auto r = rooms_.create(me, m.max_members);
          if (!r) {
            error = r.error();
            break;
          }
          out.add(registry_.find(me), make_room_created(r.value().room_id, me));
          if (events_) {
            events_->room_created(r.value().room_id, me);
            out.reported = true;
          }
          log_debug("room created", {{"user_id", me}, {"room_id", r.value().room_id}});
          break;
        }
        case MsgType::join_room: {
          auto r = rooms_.join(me, m.room_id);
          if (!r) {
            error = r.error();
            break;
          }
          const auto& joined = r.value();
          log_debug("room joined", {{"user_id", me}, {"room_id", joined.room_id}});
          if (events_) {
            events_->peer_joined(joined.room_id, me);
            out.reported = true;
          }
          out.add(registry_.find(me),
                  make_room_joined(joined.room_id, joined.host, joined.members));
          auto event = make_peer_event(MsgType::peer_joined, m.room_id, me);
          for (UserId member : joined.members) {
            if (member != me) out.add(registry_.find(member), event);
          }
          break;
        }
        case MsgType::leave_room: {
          auto r = rooms_.leave(me, m.room_id);
          if (!r) {
            error = r.error();
            break;
          }
          report_departure_locked(m.room_id, me, r.value().remaining.empty(), out);
          auto event = make_peer_left(m.room_id, me, r.value().host);
          for (UserId member : r.value().remaining) out.add(registry_.find(member), event);
          break;
        }
        case MsgType::ready: {
          auto r = rooms_.ready(me, m.room_id);
          if (!r) {
            error = r.error();
            break;
          }
          auto event = make_peer_event(MsgType::peer_ready, m.room_id, me);
          for (UserId member : r.value()) out.add(registry_.find(member), event);
          break;
        }
        case MsgType::sdp:
        case MsgType::ice_candidate: {
          error = rooms_.check_relay(me, *m.to, m.room_id);
          if (error) break;
          relay_target = registry_.find(*m.to);
          if (!relay_target) {
            error = SignalError::peer_not_in_room;
            break;
          }
          peer.relay_route_ = Peer::RelayRoute{epoch_, *m.to, m.room_id, relay_target};
          break;
        }
        default:
          break;  // parse_client_message admits client types only
      }
    }
  }
  if (error) {
    peer.deliver(make_error({*error, describe(*error), type}));
    return {type, error, false};
  }
  // Build the relayed message outside the lock: it is the largest piece of work here.
  if (relay_target) relay_target->deliver(make_relay(text, m, me));
  out.send();
  flush_events(out);
  return {type, std::nullopt, relay_target != nullptr};
}

std::shared_ptr<Peer> SignalingHub::remembered_route_locked(const Peer& from, UserId to,
                                                            const std::string& room_id) {
  const Peer::RelayRoute& route = from.relay_route_;
  // Same epoch: the sender is still its user's connection, and the two still share the room.
  if (route.epoch != epoch_ || route.to != to || route.room_id != room_id) return nullptr;
  return route.target.lock();  // null once the target's session is gone: looked up again
}

void SignalingHub::revoke_key(UserId user, const std::string& key_hash) {
  std::shared_ptr<Peer> peer;
  {
    std::lock_guard lock(mutex_);
    peer = registry_.find(user);
  }
  if (peer && peer->identity().key_hash == key_hash) {
    peer->close(CloseCode::key_revoked, "API key revoked");
  }
}

void SignalingHub::close_all(CloseCode code, std::string_view reason) {
  std::vector<std::shared_ptr<Peer>> peers;
  {
    std::lock_guard lock(mutex_);
    peers = registry_.all();
  }
  for (auto& p : peers) p->close(code, reason);
}

void SignalingHub::rooms_of(UserId user, Answer<std::vector<RoomView>> done) {
  std::vector<RoomManager::Membership> memberships;
  {
    std::lock_guard lock(mutex_);
    memberships = rooms_.memberships(user);
  }
  done(room_views(std::move(memberships)));
}

void SignalingHub::list_rooms(std::string_view after, std::size_t limit,
                              Answer<RoomManager::Page> done) {
  std::unique_lock lock(mutex_);
  auto page = rooms_.page(after, limit);
  lock.unlock();
  done(std::move(page));
}

void SignalingHub::room(const std::string& room_id,
                        Answer<std::optional<RoomManager::Detail>> done) {
  std::unique_lock lock(mutex_);
  auto detail = rooms_.detail(room_id);
  lock.unlock();
  done(std::move(detail));
}

void SignalingHub::close_room(const std::string& room_id, std::string_view reason,
                              Answer<std::optional<std::vector<UserId>>> done) {
  Outbox out;
  std::optional<std::vector<UserId>> members;
  {
    std::lock_guard lock(mutex_);
    members = rooms_.close(room_id);
    if (members) {
      ++epoch_;  // a remembered route into this room is no longer good
      auto message = make_room_closed(room_id, reason);
      for (UserId m : *members) out.add(registry_.find(m), message);
      // Under the lock, like every other room event, so the room's webhooks stay in order.
      if (events_) {
        events_->room_closed(room_id, reason);
        out.reported = true;
      }
    }
  }
  if (members) {
    log_info("room closed by an administrator", {{"room_id", room_id}});
    flush_events(out);
    out.send();
  }
  done(std::move(members));
}

void SignalingHub::presence(UserId user, Answer<Presence> done) {
  Presence p;
  std::vector<RoomManager::Membership> memberships;
  {
    std::lock_guard lock(mutex_);
    p.online = registry_.find(user) != nullptr;
    memberships = rooms_.memberships(user);
  }
  p.rooms = room_views(std::move(memberships));
  done(std::move(p));
}

void SignalingHub::disconnect_user(UserId user, CloseCode code, std::string_view reason,
                                   Answer<bool> done) {
  std::shared_ptr<Peer> peer;
  {
    std::lock_guard lock(mutex_);
    peer = registry_.find(user);
  }
  // A Session ends on close: its end handler takes it out of the hub (disconnect), which
  // leaves its rooms; then its connection, if it has one, is closed with `code`.
  if (peer) peer->close(code, reason);
  done(peer != nullptr);
}

std::size_t SignalingHub::connection_count() {
  std::lock_guard lock(mutex_);
  return registry_.size();
}

std::size_t SignalingHub::room_count() {
  std::lock_guard lock(mutex_);
  return rooms_.room_count();
}

std::optional<Hub::RoomTotals> SignalingHub::room_totals() {
  std::lock_guard lock(mutex_);
  return RoomTotals{rooms_.room_count(), rooms_.member_count()};
}

bool SignalingHub::invariants_hold() {
  std::lock_guard lock(mutex_);
  return rooms_.invariants_hold();
}

}  // namespace switchboard
