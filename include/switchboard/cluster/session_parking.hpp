#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchboard/auth/identity.hpp"
#include "switchboard/cluster/redis_client.hpp"
#include "switchboard/signaling/kept_messages.hpp"
#include "switchboard/signaling/session.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

/// Sessions that move between the daemons of a cluster (protocol.md 6, docs/cluster.md
/// "Sessions that move"), through Redis. A session moves in two steps, so that no message
/// addressed to it is lost or delivered twice on the way:
///
/// 1. park(): the user's presence becomes "parked" (`sb:presence:<user>` holds the session's
///    id hash instead of a node), so what is sent to the user from now on waits in Redis
///    (`sb:session:<sid>:held`, within the resume limits); and the holding daemon is told,
///    through its inbox, behind everything already sent there ("parked" envelope).
/// 2. store(): that daemon, on the envelope, has delivered everything sent before step 1;
///    it writes the session's numbering and kept messages and closes its socket.
///
/// A resume on any daemon (request()) then adopts the parked session: in one script its
/// state, kept and held messages go to the adopting daemon's inbox ("adopt" envelope), ahead
/// of anything sent to the user afterwards, and the presence is that daemon's connection. A
/// resume of a session that another daemon holds parks it first, with the resuming daemon
/// recorded as its adopter, and store() completes the adoption.
///
/// A parked session that nobody adopts ends at its deadline (the resume window), or at once
/// when it overflows, is replaced by a new connection or its key is revoked: sweep() returns
/// those, and the caller makes each user leave its rooms (RedisRoomDirectory::release with
/// kParked). Session ids never reach Redis: only their SHA-256 (session_hash).
///
/// Callbacks run on the client's strand.
class SessionParking {
 public:
  template <class T>
  using Done = std::function<void(Result<T, RedisError>)>;

  /// What a parked session may hold and how long it waits: the resume settings.
  struct Limits {
    std::chrono::milliseconds window{30000};
    KeepLimits keep;
  };

  SessionParking(std::shared_ptr<RedisClient> redis, std::string node_id);
  /// Set before the first park or request (the daemon's resume settings).
  void set_limits(Limits limits) { limits_ = limits; }

  /// The session id as Redis knows it: SHA-256 in hex.
  static std::string session_hash(std::string_view session_id);

  /// Step 1 for `user`'s session on this node's connection `conn` (SIGTERM's hand-over):
  /// true when it is parked now (a "parked" envelope with `code` is on its way to this
  /// node), false when that connection no longer holds the user (or has no session).
  void park(UserId user, const std::string& conn, std::uint16_t code, Done<bool> done);
  /// Step 2: the session `sid` numbered and kept `state` when it was handed over. done gets
  /// false when the session ended meanwhile (nothing was written).
  void store(const std::string& sid, const SessionState& state, Done<bool> done);
  /// A resume of the session `sid` of `user`, authenticated with `key_hash` (raw), here on
  /// connection `conn`: true when an "adopt" envelope will come (now, or once its holder
  /// has stored it), false when there is no such session of this user and key to resume.
  void request(UserId user, const std::string& key_hash, const std::string& sid,
               const std::string& conn, Done<bool> done);
  /// The session `sid` ends at the next sweep (its holder could not hand it over).
  void abandon(const std::string& sid);
  /// A parked session of `user` authenticated with `key_hash` (raw) ends at the next sweep.
  void end_for_key(UserId user, const std::string& key_hash);
  /// `user`'s parked session, if any, ends at the next sweep (an administrator's disconnect):
  /// done gets whether there was one.
  void end_for_user(UserId user, Done<bool> done);
  /// Takes up to `limit` parked sessions whose time is over out of Redis: each {user, sid},
  /// for the caller to make the user leave its rooms.
  void sweep(std::size_t limit, Done<std::vector<std::pair<UserId, std::string>>> done);

 private:
  std::shared_ptr<RedisClient> redis_;
  std::string node_;
  Limits limits_;
};

}  // namespace switchboard
