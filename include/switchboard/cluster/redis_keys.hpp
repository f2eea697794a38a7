#pragma once

#include <string>

#include "switchboard/auth/identity.hpp"

/// The names of the cluster's keys and channels in Redis, in one place (docs/cluster.md has
/// the table). The Lua scripts build some of them too, from what they find in the data; those
/// spellings must stay these.
namespace switchboard::redis_keys {

/// A room's keys share the hash tag {room}: `part` is "", ":members", ":seq" or ":ready".
inline std::string room_key(const std::string& room_id, const char* part = "") {
  return "sb:room:{" + room_id + "}" + part;
}
inline std::string user_rooms_key(UserId user) {
  return "sb:user:" + std::to_string(user) + ":rooms";
}
/// Every room id, for the admin listing.
inline const std::string kRoomIndex = "sb:rooms";

inline std::string presence_key(UserId user) {
  return "sb:presence:" + std::to_string(user);
}

/// A parked session (SessionParking), `sid` its id's SHA-256 in hex: `part` is "", ":kept" or
/// ":held". The scripts' sb_session_key spells the same.
inline std::string session_key(const std::string& sid, const char* part = "") {
  return "sb:session:" + sid + part;
}

/// A node's heartbeat.
inline std::string node_key(const std::string& node) {
  return "sb:node:" + node;
}
/// The users connected to a node (to clean up after it dies).
inline std::string node_users_key(const std::string& node) {
  return "sb:node:" + node + ":users";
}
/// The reaper's lock on a dead node.
inline std::string reap_lock_key(const std::string& node) {
  return "sb:reap:" + node;
}
/// Node ids registered and not yet reaped.
inline const std::string kNodes = "sb:nodes";

/// The channel a node hears its envelopes on, and the one every node hears.
inline std::string inbox_channel(const std::string& node) {
  return "sb:inbox:" + node;
}
inline const std::string kBroadcast = "sb:broadcast";

}  // namespace switchboard::redis_keys
