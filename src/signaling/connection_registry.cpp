#include "switchboard/signaling/connection_registry.hpp"

namespace switchboard {

std::shared_ptr<Peer> ConnectionRegistry::replace(const std::shared_ptr<Peer>& peer) {
  auto& entry = peers_[peer->user_id()];
  auto previous = entry.peer.lock();
  entry = Entry{peer.get(), peer};
  return previous;
}

bool ConnectionRegistry::remove(const Peer& peer) {
  auto it = peers_.find(peer.user_id());
  if (it == peers_.end() || it->second.raw != &peer) return false;
  peers_.erase(it);
  return true;
}

bool ConnectionRegistry::is_current(const Peer& peer) const {
  auto it = peers_.find(peer.user_id());
  return it != peers_.end() && it->second.raw == &peer;
}

std::shared_ptr<Peer> ConnectionRegistry::find(UserId user) const {
  auto it = peers_.find(user);
  return it == peers_.end() ? nullptr : it->second.peer.lock();
}

std::vector<std::shared_ptr<Peer>> ConnectionRegistry::all() const {
  std::vector<std::shared_ptr<Peer>> out;
  out.reserve(peers_.size());
  for (const auto& [id, entry] : peers_) {
    if (auto p = entry.peer.lock()) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace switchboard
