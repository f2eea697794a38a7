#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "switchboard/signaling/peer.hpp"

namespace switchboard {

/// User id to that user's live connection (at most one). Not locked itself: SignalingHub
/// owns it under its mutex. Holds weak references, so it never keeps a closed session alive.
class ConnectionRegistry {
 public:
  /// Makes `peer` its user's connection; returns the one it replaces, if any.
  std::shared_ptr<Peer> replace(const std::shared_ptr<Peer>& peer);
  /// Removes `peer` if it is still its user's connection; false if it was replaced already.
  bool remove(const Peer& peer);
  bool is_current(const Peer& peer) const;
  std::shared_ptr<Peer> find(UserId user) const;
  std::vector<std::shared_ptr<Peer>> all() const;
  std::size_t size() const { return peers_.size(); }

 private:
  struct Entry {
    const Peer* raw;  // identity check without locking the weak_ptr
    std::weak_ptr<Peer> peer;
  };
  std::unordered_map<UserId, Entry> peers_;
};

}  // namespace switchboard
