#include "switchboard/signaling/cluster_hub.hpp"

#include <atomic>

#include "switchboard/util/encoding.hpp"
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
      parking_(commands_, node_),
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
  for (const auto& [user, l] : locals_) {
    if (auto p = l.peer.lock()) {
      presence_.claim(user, l.conn, l.session, hex_encode(p->identity().key_hash), [](auto) {});
    }
  }
}

void ClusterHub::set_sessions(SessionMover* sessions) {
  sessions_ = sessions;
  if (sessions_) {
    parking_.set_limits(
        {std::chrono::seconds(sessions_->resume_window()), sessions_->keep_limits()});
  }
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
  std::string session;
  if (!peer->session_id().empty()) session = SessionParking::session_hash(peer->session_id());
  std::shared_ptr<Peer> previous;
  std::string conn;
  {
    std::lock_guard lock(mutex_);
    conn = next_conn_locked();
    auto& l = locals_[user];
    previous = l.peer.lock();
    l = Local{peer, peer.get(), conn, session};
  }
  if (previous) previous->close(CloseCode::replaced, "replaced by a newer connection");
  // The claim tells a holder on another daemon to close its connection (4002); then the user
  // leaves every room, as a replaced user does. Both go out before anything this connection
  // sends, on the same Redis connection, so Redis runs them first.
  presence_.claim(user, conn, session, hex_encode(peer->identity().key_hash), [user](auto r) {
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

void ClusterHub::reply(const Replier& to, SharedText text) {
  auto p = to.peer.lock();
  if (p && local(to.user).get() == p.get()) return p->deliver(std::move(text));
  // The session moved to another daemon (or is parked) since the message it answers was
  // handled here: the answer follows it there.
  presence_.send(to.user, to.session, *text);
}

void ClusterHub::fail(const Replier& to, SignalError error, int msg_type) {
  reply(to, make_error({error, describe(error), msg_type}));
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
  Replier to{{}, me, {}};
  {
    // A connection that has just been replaced may still have messages in flight. Under the
    // lock a hand-over takes the session out with (hand_off), the client seq too: a message
    // is either handled here and counted in the state handed over, or dropped before it is
    // counted, for the client to send again after its resume; never counted and dropped.
    std::lock_guard lock(mutex_);
    auto it = locals_.find(me);
    if (it == locals_.end() || it->second.raw != &peer) return {type, std::nullopt, false};
    if (m.seq && !peer.accept_client_seq(*m.seq)) return {type, std::nullopt, false};
    to.peer = it->second.peer;
    to.session = it->second.session;
  }
  auto on_error = [this, to, type](const RoomDirectoryError& e) {
    // Replaced on another daemon while this was on its way: its replacement is not told.
    if (std::holds_alternative<Fenced>(e)) return;
    fail(to, signal_error(e), type);
  };
  switch (m.type) {
    case MsgType::create_room:
      rooms_.create(
          me, m.max_members,
          [this, to, me, on_error](auto r) {
            if (!r.ok()) return on_error(r.error());
            reply(to, make_room_created(r.value().room_id, me));
          },
          to.session);
      break;
    case MsgType::join_room:
      // RoomJoined arrives through this node's inbox, in order with the room's other events.
      rooms_.join(
          me, m.room_id,
          [on_error](auto r) {
            if (!r.ok()) on_error(r.error());
          },
          to.session);
      break;
    case MsgType::leave_room:
      rooms_.leave(
          me, m.room_id,
          [on_error](auto r) {
            if (!r.ok()) on_error(r.error());
          },
          to.session);
      break;
    case MsgType::ready:
      rooms_.ready(
          me, m.room_id,
          [on_error](auto r) {
            if (!r.ok()) on_error(r.error());
          },
          to.session);
      break;
    case MsgType::sdp:
    case MsgType::ice_candidate:
      presence_.relay(me, *m.to, m.room_id, *make_relay(text, m, me),
                      [this, to, type](Result<std::optional<SignalError>, RedisError> r) {
                        if (!r.ok()) return fail(to, SignalError::unavailable, type);
                        if (r.value()) return fail(to, *r.value(), type);
                        if (on_outcome_) on_outcome_(type, std::nullopt);
                      });
      break;
    default:
      break;  // parse_client_message admits client types only
  }
  return {type, std::nullopt, false};
}

void ClusterHub::revoke_key(UserId user, const std::string& key_hash) {
  // A session of that key parked in Redis ends too (no daemon holds it to close).
  parking_.end_for_key(user, key_hash);
  ClusterEnvelope e;
  e.kind = ClusterEnvelope::Kind::revoke;
  e.user = user;
  e.key_hash = key_hash;
  mailbox_.broadcast(e);  // this daemon hears it too
}

SharedText ClusterHub::render(const ClusterEnvelope& e) {
  if (e.kind == ClusterEnvelope::Kind::deliver) return std::make_shared<const std::string>(e.text);
  if (e.kind != ClusterEnvelope::Kind::room_event) return nullptr;
  if (e.type == MsgType::peer_left) return make_peer_left(e.room_id, e.user, e.host);
  if (e.type == MsgType::room_closed) return make_room_closed(e.room_id, e.reason);
  if (e.type == MsgType::room_joined) return make_room_joined(e.room_id, e.host, e.members);
  return make_peer_event(e.type, e.room_id, e.user);
}

void ClusterHub::on_envelope(const ClusterEnvelope& e) {
  switch (e.kind) {
    case ClusterEnvelope::Kind::deliver:
    case ClusterEnvelope::Kind::room_event: {
      SharedText message = render(e);
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
    case ClusterEnvelope::Kind::parked:
      hand_off(e);
      break;
    case ClusterEnvelope::Kind::adopt:
      adopt(e);
      break;
  }
}

void ClusterHub::hand_off(const ClusterEnvelope& e) {
  // Every envelope sent here before the session was parked has been delivered to it (they
  // came ahead of this one): its state is complete now.
  std::shared_ptr<Peer> p;
  {
    std::lock_guard lock(mutex_);
    auto it = locals_.find(e.user);
    if (it != locals_.end() && it->second.conn == e.conn) {
      p = it->second.peer.lock();
      locals_.erase(it);
    }
  }
  std::optional<Session::HandOff> moved;
  if (p && sessions_) moved = sessions_->hand_off(p);
  if (!moved) {
    // Its connection ended before the hand-over (or it is no session): the parked session
    // ends at the next sweep, and its user leaves the rooms then.
    parking_.abandon(e.session);
    if (p) p->close(CloseCode::going_away, "server shutting down");
    return finish_hand_over(e.conn);
  }
  parking_.store(e.session, moved->state, [this, conn = e.conn, user = e.user](auto r) {
    if (!r.ok()) {
      log_warn("session not handed over", {{"user_id", user}, {"error", r.error().message}});
    }
    finish_hand_over(conn);
  });
  if (!moved->carrier) return;
  if (e.code == static_cast<std::uint16_t>(CloseCode::service_restart)) {
    moved->carrier->drop(CloseCode::service_restart, "service restart: resume on another daemon");
  } else {
    moved->carrier->drop(CloseCode::replaced, "resumed by a newer connection");
  }
}

void ClusterHub::adopt(const ClusterEnvelope& e) {
  std::optional<Bringing> b;
  {
    std::lock_guard lock(mutex_);
    auto it = bringing_.find(e.session);
    if (it != bringing_.end() && it->second.conn == e.conn && it->second.who.user_id == e.user) {
      b = std::move(it->second);
      bringing_.erase(it);
    }
  }
  if (!b || !sessions_) {
    // The resume gave up waiting (bring_session's timeout): the session ends, as it would
    // have at its window's end.
    log_warn("session arrived after its resume gave up: it ends", {{"user_id", e.user}});
    rooms_.release(e.user, node_, e.conn, [](auto) {});
    return;
  }
  auto session =
      sessions_->adopt(b->who, b->session_id, SessionState{e.next_seq, e.client_seq, e.kept});
  std::shared_ptr<Peer> previous;
  {
    std::lock_guard lock(mutex_);
    auto& l = locals_[e.user];
    previous = l.peer.lock();
    l = Local{session, session.get(), e.conn, e.session};
  }
  if (previous) previous->close(CloseCode::replaced, "replaced by a newer connection");
  // What was sent to it while parked, numbered after what it kept; then what comes next
  // through this inbox, behind this envelope.
  for (const auto& h : e.held) {
    auto held = decode_envelope(h);
    SharedText text = held ? render(held.value()) : nullptr;
    if (!text) {
      log_warn("held message dropped", {{"user_id", e.user}, {"bytes", h.size()}});
      continue;
    }
    session->deliver(std::move(text));
  }
  log_debug("session taken on from another daemon",
            {{"user_id", e.user}, {"held", e.held.size()}, {"kept", e.kept.size()}});
  b->done(Unit{});
}

void ClusterHub::bring_session(const Identity& who, const std::string& session_id,
                               Answer<Unit> done) {
  if (!sessions_ || sessions_->resume_window() == 0 || session_id.size() != Session::kIdLength ||
      sessions_->holds(session_id)) {
    return done(Unit{});
  }
  std::string sid = SessionParking::session_hash(session_id);
  std::string conn;
  Answer<Unit> displaced;
  {
    std::lock_guard lock(mutex_);
    conn = next_conn_locked();
    auto& b = bringing_[sid];
    displaced = std::move(b.done);  // a resume of the same session racing this one: fresh
    b = Bringing{who, session_id, conn, std::chrono::steady_clock::now() + kBringTimeout,
                 std::move(done)};
  }
  if (displaced) displaced(Unit{});
  parking_.request(
      who.user_id, who.key_hash, sid, conn, [this, sid, conn](Result<bool, RedisError> r) {
        if (r.ok() && r.value()) return;  // it comes through the inbox (adopt)
        Answer<Unit> answer;
        {
          std::lock_guard lock(mutex_);
          auto it = bringing_.find(sid);
          if (it == bringing_.end() || it->second.conn != conn) return;
          answer = std::move(it->second.done);
          bringing_.erase(it);
        }
        if (!r.ok()) {
          log_warn("session not brought: Redis does not answer", {{"error", r.error().message}});
          return answer(HubUnavailable{r.error().message});
        }
        answer(Unit{});  // nothing to bring: a fresh session
      });
}

void ClusterHub::hand_over_all() {
  struct Moving {
    UserId user;
    std::string conn;
    std::weak_ptr<Peer> peer;
  };
  std::vector<Moving> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [user, l] : locals_) {
      all.push_back({user, l.conn, l.peer});
      handing_over_.insert(l.conn);
    }
  }
  for (auto& m : all) {
    parking_.park(m.user, m.conn, static_cast<std::uint16_t>(CloseCode::service_restart),
                  [this, conn = m.conn, weak = m.peer](Result<bool, RedisError> r) {
                    // Parked: the "parked" envelope finishes it (hand_off).
                    if (r.ok() && r.value()) return;
                    if (auto p = weak.lock())
                      p->close(CloseCode::going_away, "server shutting down");
                    finish_hand_over(conn);
                  });
  }
}

void ClusterHub::finish_hand_over(const std::string& conn) {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    if (handing_over_.erase(conn) == 0 || !handing_over_.empty()) return;
    done = std::exchange(handed_over_, nullptr);
  }
  if (done) done();
}

void ClusterHub::after_hand_over(std::function<void()> done) {
  {
    std::lock_guard lock(mutex_);
    if (!handing_over_.empty()) {
      handed_over_ = std::move(done);
      return;
    }
  }
  done();
}

void ClusterHub::sweep_parked() {
  std::vector<Answer<Unit>> late;
  {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    for (auto it = bringing_.begin(); it != bringing_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      late.push_back(std::move(it->second.done));
      it = bringing_.erase(it);
    }
  }
  for (auto& answer : late) answer(Unit{});  // its holder never handed it over: fresh
  parking_.sweep(64, [this](auto r) {
    if (!r.ok()) return;
    for (const auto& [user, sid] : r.value()) {
      log_info("parked session ended", {{"user_id", user}});
      rooms_.release(user, RedisRoomDirectory::kParked, sid, [](auto) {});
    }
  });
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
  if (const auto* s = std::get_if<SignalError>(&e)) {
    return {"unexpected room rule: " + std::string(describe(*s))};
  }
  return {"unexpected fence"};  // the admin questions carry none
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
  // Online: connected to a daemon, or parked in Redis for a resume (as a detached session
  // counts on one daemon).
  presence_.present(user, [this, user, done = std::move(done)](auto r) mutable {
    if (!r.ok()) return done(unavailable(r.error()));
    bool online = r.value();
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
        if (r.value().empty() || !r.value().front()) {
          // Not on a daemon; parked for a resume, it ends at the next sweep (PeerLeft).
          return parking_.end_for_user(user, [done](Result<bool, RedisError> parked) {
            if (!parked.ok()) return done(unavailable(parked.error()));
            done(parked.value());
          });
        }
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
