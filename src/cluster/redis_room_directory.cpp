#include "switchboard/cluster/redis_room_directory.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

namespace switchboard {

namespace {

std::string to_hex(const unsigned char* data, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

RedisRoomDirectory::Script make_script(std::string source) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source.data(), source.size(), digest, &len, EVP_sha1(), nullptr);
  return {std::move(source), to_hex(digest, len)};
}

// Every script answers {"ok", member...} (join order) or {"err", code}. Keys of one room share
// the {room} hash tag; the user's room set is the one key outside it.

// KEYS: room, members, seq, user's rooms. ARGV: user, room id, rooms per user, max members.
const RedisRoomDirectory::Script kCreate = make_script(R"lua(
if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[3]) then return {'err', 'too_many_rooms'} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'err', 'room_exists'} end
redis.call('HSET', KEYS[1], 'max', ARGV[4])
redis.call('SET', KEYS[3], 1)
redis.call('ZADD', KEYS[2], 1, ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
return {'ok', ARGV[1]}
)lua");

// KEYS: room, members, seq, user's rooms. ARGV: user, room id, rooms per user.
const RedisRoomDirectory::Script kJoin = make_script(R"lua(
local max = redis.call('HGET', KEYS[1], 'max')
if not max then return {'err', 'room_not_found'} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'err', 'already_in_room'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(max) then return {'err', 'room_full'} end
if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[3]) then return {'err', 'too_many_rooms'} end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
return {'ok', unpack(redis.call('ZRANGE', KEYS[2], 0, -1))}
)lua");

// KEYS: room, members, seq, ready, user's rooms. ARGV: user, room id.
const RedisRoomDirectory::Script kLeave = make_script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'room_not_found'} end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return {'err', 'not_in_room'} end
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[2])
local left = redis.call('ZRANGE', KEYS[2], 0, -1)
if #left == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) end
return {'ok', unpack(left)}
)lua");

// KEYS: room, members, ready. ARGV: user.
const RedisRoomDirectory::Script kReady = make_script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'room_not_found'} end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'err', 'not_in_room'} end
redis.call('SADD', KEYS[3], ARGV[1])
return {'ok', unpack(redis.call('ZRANGE', KEYS[2], 0, -1))}
)lua");

std::string room_key(const std::string& room_id, const char* part = "") {
  return "sb:room:{" + room_id + "}" + part;
}
std::string user_rooms_key(UserId user) {
  return "sb:user:" + std::to_string(user) + ":rooms";
}

std::optional<SignalError> signal_error(const std::string& code) {
  if (code == "room_not_found") return SignalError::room_not_found;
  if (code == "room_full") return SignalError::room_full;
  if (code == "already_in_room") return SignalError::already_in_room;
  if (code == "not_in_room") return SignalError::not_in_room;
  if (code == "too_many_rooms") return SignalError::too_many_rooms;
  return std::nullopt;
}

RedisError protocol_error(const std::string& what) {
  return RedisError{RedisError::Code::unavailable, "unexpected reply from a room script: " + what};
}

/// The script's reply as members in join order, or the rule that said no.
Result<std::vector<UserId>, RoomDirectoryError> decode(const RedisReply& r) {
  if (r.is_error()) return RoomDirectoryError(protocol_error(r.str));
  if (r.type != RedisReply::Type::array || r.elements.empty()) {
    return RoomDirectoryError(protocol_error("not an array"));
  }
  const std::string& status = r.elements[0].str;
  if (status == "err") {
    std::string code = r.elements.size() > 1 ? r.elements[1].str : "";
    if (code == "room_exists") return RoomDirectoryError(protocol_error(code));
    if (auto e = signal_error(code)) return RoomDirectoryError(*e);
    return RoomDirectoryError(protocol_error(code));
  }
  std::vector<UserId> members;
  for (std::size_t i = 1; i < r.elements.size(); ++i) {
    const std::string& s = r.elements[i].str;
    UserId u = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
    if (ec != std::errc() || p != s.data() + s.size())
      return RoomDirectoryError(protocol_error("member " + s));
    members.push_back(u);
  }
  return members;
}

std::string random_room_id() {
  // 16 bytes = 128 bits, as RoomManager's ids: knowing a room id is what admits a user.
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  return to_hex(bytes, sizeof bytes);
}

}  // namespace

RedisRoomDirectory::RedisRoomDirectory(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                                       RoomManager::IdGenerator new_room_id)
    : redis_(std::move(redis)), limits_(limits), new_room_id_(std::move(new_room_id)) {
  if (!new_room_id_) new_room_id_ = random_room_id;
}

void RedisRoomDirectory::run(const std::shared_ptr<RedisClient>& redis, const Script& script,
                             std::vector<std::string> keys, std::vector<std::string> args,
                             ScriptDone done) {
  std::vector<std::string> command{"EVALSHA", script.sha1, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  redis->command(
      command, [redis, &script, command, done = std::move(done)](RedisClient::Reply reply) mutable {
        if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
        if (reply.value().is_error() && reply.value().str.rfind("NOSCRIPT", 0) == 0) {
          // Redis lost its script cache: EVAL runs the script and caches it again.
          command[0] = "EVAL";
          command[1] = script.source;
          redis->command(std::move(command), [done = std::move(done)](RedisClient::Reply again) {
            if (!again.ok()) return done(RoomDirectoryError(again.error()));
            done(decode(again.value()));
          });
          return;
        }
        done(decode(reply.value()));
      });
}

void RedisRoomDirectory::create(UserId creator, std::optional<std::size_t> max_members,
                                Done<Membership> done) {
  auto size = std::min(max_members.value_or(limits_.default_size), limits_.max_size);
  create_attempt(redis_, limits_, new_room_id_, creator, size, 3, std::move(done));
}

void RedisRoomDirectory::create_attempt(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                                        RoomManager::IdGenerator new_room_id, UserId creator,
                                        std::size_t max_members, int attempts_left,
                                        Done<Membership> done) {
  std::string id = new_room_id();
  run(redis, kCreate,
      {room_key(id), room_key(id, ":members"), room_key(id, ":seq"), user_rooms_key(creator)},
      {std::to_string(creator), id, std::to_string(limits.rooms_per_user),
       std::to_string(max_members)},
      [redis, limits, new_room_id, creator, max_members, attempts_left, id,
       done = std::move(done)](auto r) mutable {
        // An id already taken (128 random bits: only with a custom generator): draw again.
        if (!r.ok() && attempts_left > 1 && std::holds_alternative<RedisError>(r.error()) &&
            std::get<RedisError>(r.error()).message.ends_with("room_exists")) {
          return create_attempt(std::move(redis), limits, std::move(new_room_id), creator,
                                max_members, attempts_left - 1, std::move(done));
        }
        if (!r.ok()) return done(r.error());
        done(Membership{id, creator, {creator}});
      });
}

void RedisRoomDirectory::join(UserId user, const std::string& room_id, Done<Membership> done) {
  run(redis_, kJoin,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":seq"),
       user_rooms_key(user)},
      {std::to_string(user), room_id, std::to_string(limits_.rooms_per_user)},
      [room_id, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto& members = r.value();
        done(Membership{room_id, members.front(), std::move(members)});
      });
}

void RedisRoomDirectory::leave(UserId user, const std::string& room_id, Done<Departure> done) {
  run(redis_, kLeave,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":seq"),
       room_key(room_id, ":ready"), user_rooms_key(user)},
      {std::to_string(user), room_id}, [room_id, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto& remaining = r.value();
        UserId host = remaining.empty() ? 0 : remaining.front();
        done(Departure{room_id, host, std::move(remaining)});
      });
}

void RedisRoomDirectory::ready(UserId user, const std::string& room_id,
                               Done<std::vector<UserId>> done) {
  run(redis_, kReady,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":ready")},
      {std::to_string(user)}, [user, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto others = std::move(r.value());
        std::erase(others, user);
        done(std::move(others));
      });
}

}  // namespace switchboard
