#include "switchboard/signaling/session_manager.hpp"

#include <nlohmann/json.hpp>

#include "switchboard/signaling/hub.hpp"
#include "switchboard/util/encoding.hpp"

namespace switchboard {

SessionManager::SessionManager(Hub& hub, unsigned resume_window, KeepLimits keep)
    : hub_(hub),
      window_seconds_(resume_window),
      keep_(resume_window > 0 ? keep : KeepLimits{0, 0}) {}

SessionManager::~SessionManager() = default;

SessionManager::Attached SessionManager::attach(const Identity& who,
                                                const std::optional<ResumeRequest>& resume,
                                                const std::shared_ptr<SessionCarrier>& carrier,
                                                const nlohmann::json& ice) {
  if (resume && window_seconds_ > 0) {
    std::shared_ptr<Session> found;
    {
      std::lock_guard lock(mutex_);
      auto it = by_id_.find(resume->session);
      if (it != by_id_.end()) found = it->second;
    }
    // Another user's session, or one of a key since regenerated, is not there for this
    // client: it gets a fresh session, the same answer as for one that never existed.
    if (found && found->user_id() == who.user_id && found->identity().key_hash == who.key_hash) {
      WelcomeSession welcome{std::string(found->id()), window_seconds_, true, 0, resume->rooms};
      auto previous = found->attach(carrier, resume->last_seq, [&](std::uint64_t ack) {
        welcome.ack = ack;
        return make_welcome(who.user_id, who.username, ice, welcome);
      });
      if (previous) {
        {
          std::lock_guard lock(mutex_);
          detached_.erase(found->id());
        }
        if (*previous) (*previous)->drop(CloseCode::replaced, "resumed by a newer connection");
        return {std::move(found), true};
      }
    }
  }
  return {start_session(who, carrier, ice), false};
}

std::shared_ptr<Session> SessionManager::start_session(
    const Identity& who, const std::shared_ptr<SessionCarrier>& carrier,
    const nlohmann::json& ice) {
  auto session = std::make_shared<Session>(who, random_token(32), keep_);
  session->set_end_handler([this](Session& ended) { forget(ended); });
  {
    std::lock_guard lock(mutex_);
    by_id_.emplace(session->id(), session);
  }
  WelcomeSession welcome{std::string(session->id()), window_seconds_, false, 0, {}};
  session->attach(carrier, 0, [&](std::uint64_t) {
    return make_welcome(who.user_id, who.username, ice, welcome);
  });
  // The user's other session, if any, leaves its rooms and its connection is closed (4002).
  hub_.connect(session);
  return session;
}

void SessionManager::release(const std::shared_ptr<Session>& session, const SessionCarrier* carrier,
                             bool lost) {
  if (lost && window_seconds_ > 0) {
    if (session->detach(carrier, Clock::now())) {
      std::lock_guard lock(mutex_);
      // Not if it ended meanwhile (then forget has run, or runs next, and the entry would
      // outlive it).
      if (by_id_.contains(session->id())) detached_.emplace(session->id(), session);
    }
    return;
  }
  session->end_from(carrier);
}

void SessionManager::sweep(Clock::time_point now) {
  std::vector<std::shared_ptr<Session>> detached;
  {
    std::lock_guard lock(mutex_);
    detached.reserve(detached_.size());
    for (const auto& [id, s] : detached_) detached.push_back(s);
  }
  auto deadline = now - std::chrono::seconds(window_seconds_);
  // A resume that wins the session's lock first keeps it; otherwise it ends here.
  for (const auto& s : detached) s->expire_if_detached_before(deadline);
}

void SessionManager::forget(Session& session) {
  // Out of the tables first, then out of the hub: whoever sees the PeerLeft the hub sends
  // must find the session gone (counted, and not resumable), never still listed.
  // The tables may hold the last references: keep the session alive until the hub is done.
  auto keep = untable(session);
  hub_.disconnect(session);
}

std::shared_ptr<Session> SessionManager::untable(const Session& session) {
  std::shared_ptr<Session> keep;
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(session.id());
  if (it != by_id_.end() && it->second.get() == &session) {
    keep = std::move(it->second);
    by_id_.erase(it);
  }
  auto d = detached_.find(session.id());
  if (d != detached_.end() && d->second.get() == &session) {
    if (!keep) keep = std::move(d->second);
    detached_.erase(d);
  }
  return keep;
}

std::optional<Session::HandOff> SessionManager::hand_off(const std::shared_ptr<Peer>& peer) {
  auto session = std::dynamic_pointer_cast<Session>(peer);
  if (!session) return std::nullopt;
  auto out = session->hand_off();
  // Not through forget: the hub must not make it leave its rooms, another daemon has it now.
  if (out) untable(*session);
  return out;
}

std::shared_ptr<Session> SessionManager::adopt(const Identity& who, std::string_view id,
                                               const SessionState& state) {
  auto session = std::make_shared<Session>(who, id, keep_, state, Clock::now());
  session->set_end_handler([this](Session& ended) { forget(ended); });
  std::shared_ptr<Session> displaced;
  {
    std::lock_guard lock(mutex_);
    // The session cannot be here already (it was on another daemon until now); if a stale
    // entry has its id, the adopted one wins and the stale one ends.
    if (auto it = by_id_.find(session->id()); it != by_id_.end()) displaced = it->second;
  }
  if (displaced) displaced->close(CloseCode::replaced, "resumed by a newer connection");
  std::lock_guard lock(mutex_);
  // Erased, not assigned over: a key is a view of its own session's id.
  by_id_.erase(session->id());
  detached_.erase(session->id());
  by_id_.emplace(session->id(), session);
  detached_.emplace(session->id(), session);
  return session;
}

bool SessionManager::holds(std::string_view id) {
  std::lock_guard lock(mutex_);
  return by_id_.contains(id);
}

std::size_t SessionManager::session_count() {
  std::lock_guard lock(mutex_);
  return by_id_.size();
}

std::size_t SessionManager::detached_count() {
  std::lock_guard lock(mutex_);
  return detached_.size();
}

}  // namespace switchboard
