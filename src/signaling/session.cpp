#include "switchboard/signaling/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace switchboard {

Session::Session(Identity who, std::string_view id, KeepLimits keep)
    : Peer(std::move(who)), keep_(keep) {
  if (id.size() != kIdLength) throw std::invalid_argument("a session id has 43 characters");
  std::copy(id.begin(), id.end(), id_.begin());
}

Session::Session(Identity who, std::string_view id, KeepLimits keep, const SessionState& state,
                 Clock::time_point now)
    : Session(std::move(who), id, keep) {
  next_seq_ = state.next_seq;
  client_seq_ = state.client_seq;
  if (keep_.messages > 0 && !state.kept.empty()) {
    kept_ = std::make_unique<KeptMessages>(keep_);
    for (const auto& [seq, text] : state.kept) kept_->push(seq, text);
  }
  detached_since_ = now;
}

void Session::deliver(SharedText message) {
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    std::uint64_t seq = next_seq_++;
    if (keep_.messages > 0) {
      std::size_t size = message->size();
      if (!kept_) kept_ = std::make_unique<KeptMessages>(keep_);
      kept_->push(seq, *message);
      if (detached_since_) {
        // Everything kept since the detach is undelivered: over the bound, the session ends
        // rather than resume with a gap.
        overflow =
            ++kept_since_detach_ > keep_.messages || (bytes_since_detach_ += size) > keep_.bytes;
      }
      // Attached, the keep is a rolling window (the oldest make way): what may be in flight
      // when a socket dies.
    }
    if (carrier_) carrier_->carry(seq, std::move(message));
  }
  if (overflow) close(CloseCode::policy, "resume buffer overflowed");
}

void Session::close(CloseCode code, std::string_view reason) {
  auto self = shared_from_this();  // the end handler may drop the last other reference
  std::optional<std::shared_ptr<SessionCarrier>> carrier;
  {
    std::lock_guard lock(mutex_);
    carrier = end_locked();
  }
  if (!carrier) return;
  if (on_end_) on_end_(*this);
  if (*carrier) (*carrier)->drop(code, reason);
}

bool Session::accept_client_seq(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  if (ended_ || seq <= client_seq_) return false;
  client_seq_ = seq;
  return true;
}

std::optional<Session::HandOff> Session::hand_off() {
  std::lock_guard lock(mutex_);
  if (ended_) return std::nullopt;
  HandOff out;
  out.state.next_seq = next_seq_;
  out.state.client_seq = client_seq_;
  if (kept_) {
    out.state.kept.reserve(kept_->size());
    kept_->for_each_after(0, [&](std::uint64_t seq, std::string_view text) {
      out.state.kept.push_back({seq, std::string(text)});
    });
  }
  out.carrier = *end_locked();
  return out;
}

bool Session::detach(const SessionCarrier* carrier, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (ended_ || carrier_.get() != carrier) return false;
  carrier_.reset();
  detached_since_ = now;
  kept_since_detach_ = 0;
  bytes_since_detach_ = 0;
  return true;
}

void Session::end_from(const SessionCarrier* carrier) {
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex_);
    if (ended_ || carrier_.get() != carrier) return;
    end_locked();
  }
  if (on_end_) on_end_(*this);
}

bool Session::expire_if_detached_before(Clock::time_point deadline) {
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex_);
    if (ended_ || !detached_since_ || *detached_since_ >= deadline) return false;
    end_locked();
  }
  if (on_end_) on_end_(*this);
  return true;
}

bool Session::ended() {
  std::lock_guard lock(mutex_);
  return ended_;
}

std::optional<std::shared_ptr<SessionCarrier>> Session::end_locked() {
  if (ended_) return std::nullopt;
  ended_ = true;
  kept_.reset();
  detached_since_.reset();
  return std::exchange(carrier_, nullptr);
}

bool Session::holds_everything_after_locked(std::uint64_t last_seq) const {
  std::uint64_t last_sent = next_seq_ - 1;
  if (last_seq > last_sent) return false;  // ahead of us: not this session's client
  if (last_seq == last_sent) return true;  // nothing to replay
  return kept_ && !kept_->empty() && kept_->first_seq() <= last_seq + 1;
}

}  // namespace switchboard
