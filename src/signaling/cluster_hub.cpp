#include "switchboard/signaling/cluster_hub.hpp"

#include <atomic>

#include "switchboard/util/logging.hpp"

namespace switchboard {

namespace {
SignalError signal_error(const RoomDirectoryError& e) {
  if (const auto* s = std::get_if<SignalError>(&e)) return *s;
  return SignalError::unavailable;  // Redis could not be asked
}
}  // namespace

ClusterHub::ClusterHub(std::shared_ptr<RedisClient> commands,
                       std::shared_ptr<RedisClient> subscriber, std::string node_id,
                       RoomLimits limits, RoomManager::IdGenerator new_room_id)
    : node_(std::move(node_id)),
      max_room_size_(limits.max_size),
      commands_(std::move(commands)),
      subscriber_(std::move(subscriber)),
      rooms_(commands_, limits, std::move(new_room_id)),
      presence_(commands_, node_),
      mailbox_(subscriber_, commands_, node_) {
  mailbox_.on_envelope([this](const ClusterEnvelope& e) { on_envelope(e); });
  mailbox_.on_bad_envelope([](std::size_t size, const std::string& why) {
    log_warn("cluster envelope dropped", {{"bytes", size}, {"error", why}});
  });
  mailbox_.on_subscribed([this] {
    std::lock_guard lock(state_mutex_);
    subscribed_ = true;
    report();
  });
  subscriber_->on_state([this](bool up, const std::string&) {
    if (up) return;  // up again once the inbox is subscribed again
    std::lock_guard lock(state_mutex_);
    subscribed_ = false;
    report();
  });
  commands_->on_state([this](bool up, const std::string&) {
    std::lock_guard lock(state_mutex_);
    commands_up_ = up;
    report();
  });
}

void ClusterHub::report() {
  bool up = commands_up_ && subscribed_;
  if (reported_ == up) return;
  reported_ = up;
  // Redis is back (perhaps restarted, empty): this daemon's users are here again. Claimed
  // before anyone is told the hub is up, so before anything a connection sends next.
  if (up) reclaim_presence();
  if (on_state_) on_state_(up);
}

void ClusterHub::reclaim_presence() {
  std::lock_guard lock(mutex_);
  for (const auto& [user, l] : locals_) presence_.claim(user, l.conn, [](auto) {});
}

ClusterHub::~ClusterHub() {
  stop();
}

void ClusterHub::start() {
  commands_->start();
  mailbox_.start();
}

void ClusterHub::stop() {
  mailbox_.stop();
  commands_->stop();
}

void ClusterHub::connect(const std::shared_ptr<Peer>& peer) {
  UserId user = peer->user_id();
  std::shared_ptr<Peer> previous;
  std::string conn;
  {
    std::lock_guard lock(mutex_);
    conn = node_ + "/" + std::to_string(next_conn_++);
    auto& l = locals_[user];
    previous = l.peer.lock();
    l = Local{peer, peer.get(), conn};
  }
  if (previous) previous->close(CloseCode::replaced, "replaced by a newer connection");
  // The claim tells a holder on another daemon to close its connection (4002); then the user
  // leaves every room, as a replaced user does. Both go out before anything this connection
  // sends, on the same Redis connection, so Redis runs them first.
  presence_.claim(user, conn, [user](auto r) {
    if (!r.ok())
      log_warn("cluster presence not claimed", {{"user_id", user}, {"error", r.error().message}});
  });
  rooms_.leave_all(user, [](auto) {});
}

void ClusterHub::disconnect(const Peer& peer) {
  std::string conn;
  {
    std::lock_guard lock(mutex_);
    auto it = locals_.find(peer.user_id());
    if (it == locals_.end() || it->second.raw != &peer) return;  // replaced
    conn = it->second.conn;
    locals_.erase(it);
  }
  rooms_.release(peer.user_id(), node_, conn, [](auto) {});
}

std::shared_ptr<Peer> ClusterHub::local(UserId user, std::string_view conn) {
  std::lock_guard lock(mutex_);
  auto it = locals_.find(user);
  if (it == locals_.end() || (!conn.empty() && it->second.conn != conn)) return nullptr;
  return it->second.peer.lock();
}

void ClusterHub::fail(const std::shared_ptr<Peer>& peer, SignalError error, int msg_type) {
  peer->deliver(make_error({error, describe(error), msg_type}));
  if (on_outcome_) on_outcome_(msg_type, error);
}

Hub::Handled ClusterHub::handle(Peer& peer, std::string_view text) {
  UserId me = peer.user_id();
  auto parsed = parse_client_message(text, me, max_room_size_);
  if (!parsed) {
    peer.deliver(make_error(parsed.error()));
    return {parsed.error().msg_type, parsed.error().code, false};
  }
  ClientMessage& m = parsed.value();
  int type = static_cast<int>(m.type);
  if (m.seq && !peer.accept_client_seq(*m.seq)) return {type, std::nullopt, false};
  std::weak_ptr<Peer> weak;
  {
    // A connection that has just been replaced may still have messages in flight.
    std::lock_guard lock(mutex_);
    auto it = locals_.find(me);
    if (it == locals_.end() || it->second.raw != &peer) return {type, std::nullopt, false};
    weak = it->second.peer;
  }
  auto on_error = [this, weak, type](const RoomDirectoryError& e) {
    if (auto p = weak.lock()) fail(p, signal_error(e), type);
  };
  switch (m.type) {
    case MsgType::create_room:
      rooms_.create(me, m.max_members, [weak, me, on_error](auto r) {
        if (!r.ok()) return on_error(r.error());
        if (auto p = weak.lock()) p->deliver(make_room_created(r.value().room_id, me));
      });
      break;
    case MsgType::join_room:
      // RoomJoined arrives through this node's inbox, in order with the room's other events.
      rooms_.join(me, m.room_id, [on_error](auto r) {
        if (!r.ok()) on_error(r.error());
      });
      break;
    case MsgType::leave_room:
      rooms_.leave(me, m.room_id, [on_error](auto r) {
        if (!r.ok()) on_error(r.error());
      });
      break;
    case MsgType::ready:
      rooms_.ready(me, m.room_id, [on_error](auto r) {
        if (!r.ok()) on_error(r.error());
      });
      break;
    case MsgType::sdp:
    case MsgType::ice_candidate:
      presence_.relay(me, *m.to, m.room_id, *make_relay(text, m, me),
                      [this, weak, type](Result<std::optional<SignalError>, RedisError> r) {
                        auto p = weak.lock();
                        if (!p) return;
                        if (!r.ok()) return fail(p, SignalError::unavailable, type);
                        if (r.value()) return fail(p, *r.value(), type);
                        if (on_outcome_) on_outcome_(type, std::nullopt);
                      });
      break;
    default:
      break;  // parse_client_message admits client types only
  }
  return {type, std::nullopt, false};
}

void ClusterHub::revoke_key(UserId user, const std::string& key_hash) {
  ClusterEnvelope e;
  e.kind = ClusterEnvelope::Kind::revoke;
  e.user = user;
  e.key_hash = key_hash;
  mailbox_.broadcast(e);  // this daemon hears it too
}

void ClusterHub::on_envelope(const ClusterEnvelope& e) {
  switch (e.kind) {
    case ClusterEnvelope::Kind::deliver:
    case ClusterEnvelope::Kind::room_event: {
      SharedText message;
      if (e.kind == ClusterEnvelope::Kind::deliver) {
        message = std::make_shared<const std::string>(e.text);
      } else if (e.type == MsgType::peer_left) {
        message = make_peer_left(e.room_id, e.user, e.host);
      } else if (e.type == MsgType::room_closed) {
        message = make_room_closed(e.room_id, e.reason);
      } else if (e.type == MsgType::room_joined) {
        message = make_room_joined(e.room_id, e.host, e.members);
      } else {
        message = make_peer_event(e.type, e.room_id, e.user);
      }
      for (UserId u : e.to) {
        if (auto p = local(u)) p->deliver(message);
      }
      break;
    }
    case ClusterEnvelope::Kind::replace: {
      std::shared_ptr<Peer> p;
      {
        std::lock_guard lock(mutex_);
        auto it = locals_.find(e.user);
        if (it == locals_.end() || it->second.conn != e.conn) return;
        p = it->second.peer.lock();
        locals_.erase(it);  // its presence and rooms are the newer connection's now
      }
      if (p) p->close(CloseCode::replaced, "replaced by a newer connection");
      break;
    }
    case ClusterEnvelope::Kind::revoke: {
      if (on_key_revoked_) on_key_revoked_(e.user, e.key_hash);
      auto p = local(e.user);
      if (p && p->identity().key_hash == e.key_hash) {
        p->close(CloseCode::key_revoked, "API key revoked");
      }
      break;
    }
    case ClusterEnvelope::Kind::close:
      if (auto p = local(e.user)) p->close(static_cast<CloseCode>(e.code), e.reason);
      break;
  }
}

void ClusterHub::close_all(CloseCode code, std::string_view reason) {
  std::vector<std::shared_ptr<Peer>> peers;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [user, l] : locals_) {
      if (auto p = l.peer.lock()) peers.push_back(std::move(p));
    }
  }
  for (auto& p : peers) p->close(code, reason);
}

namespace {
HubUnavailable unavailable(const RedisError& e) {
  return {e.message};
}
HubUnavailable unavailable(const RoomDirectoryError& e) {
  if (const auto* r = std::get_if<RedisError>(&e)) return unavailable(*r);
  return {"unexpected room rule: " + std::string(describe(std::get<SignalError>(e)))};
}
}  // namespace

void ClusterHub::rooms_of(UserId user, Answer<std::vector<RoomView>> done) {
  rooms_.memberships(user, [done = std::move(done)](auto r) {
    if (!r.ok()) return done(unavailable(r.error()));
    done(room_views(std::move(r.value())));
  });
}

void ClusterHub::list_rooms(std::string_view after, std::size_t limit,
                            Answer<RoomManager::Page> done) {
  rooms_.page(after, limit, [done = std::move(done)](auto r) {
    if (!r.ok()) return done(unavailable(r.error()));
    done(std::move(r.value()));
  });
}

void ClusterHub::room(const std::string& room_id, Answer<std::optional<RoomManager::Detail>> done) {
  rooms_.detail(room_id, [done = std::move(done)](auto r) {
    if (!r.ok()) return done(unavailable(r.error()));
    done(std::move(r.value()));
  });
}

void ClusterHub::close_room(const std::string& room_id, std::string_view reason,
                            Answer<std::optional<std::vector<UserId>>> done) {
  // The script tells every member's daemon (RoomClosed), this one's included.
  rooms_.close(room_id, reason, [room_id, done = std::move(done)](auto r) {
    if (!r.ok()) return done(unavailable(r.error()));
    if (r.value()) log_info("room closed by an administrator", {{"room_id", room_id}});
    done(std::move(r.value()));
  });
}

void ClusterHub::presence(UserId user, Answer<Presence> done) {
  presence_.locate({user}, [this, user, done = std::move(done)](auto r) mutable {
    if (!r.ok()) return done(unavailable(r.error()));
    bool online = !r.value().empty() && r.value().front().has_value();
    rooms_.memberships(user, [online, done = std::move(done)](auto m) {
      if (!m.ok()) return done(unavailable(m.error()));
      done(Presence{online, room_views(std::move(m.value()))});
    });
  });
}

void ClusterHub::disconnect_user(UserId user, CloseCode code, std::string_view reason,
                                 Answer<bool> done) {
  presence_.locate(
      {user}, [this, user, code, reason = std::string(reason), done = std::move(done)](auto r) {
        if (!r.ok()) return done(unavailable(r.error()));
        if (r.value().empty() || !r.value().front()) return done(false);
        ClusterEnvelope e;
        e.kind = ClusterEnvelope::Kind::close;
        e.user = user;
        e.code = static_cast<std::uint16_t>(code);
        e.reason = reason;
        mailbox_.post(r.value().front()->node, e, [done](RedisClient::Reply reply) {
          if (!reply.ok()) return done(unavailable(reply.error()));
          if (reply.value().is_error()) return done(HubUnavailable{reply.value().str});
          done(true);
        });
      });
}

void ClusterHub::reap(const std::string& dead_node, const std::vector<UserId>& users,
                      std::function<void()> finished) {
  log_warn("cluster node dead: its users leave their rooms",
           {{"node", dead_node}, {"users", users.size()}});
  if (users.empty()) return finished();
  auto left = std::make_shared<std::atomic<std::size_t>>(users.size());
  auto done = std::make_shared<std::function<void()>>(std::move(finished));
  for (UserId u : users) {
    rooms_.release(u, dead_node, RedisRoomDirectory::kAnyConnection, [left, done, u](auto r) {
      if (!r.ok()) log_warn("dead node's user not released", {{"user_id", u}});
      if (left->fetch_sub(1) == 1) (*done)();
    });
  }
}

std::size_t ClusterHub::connection_count() {
  std::lock_guard lock(mutex_);
  return locals_.size();
}

}  // namespace switchboard
