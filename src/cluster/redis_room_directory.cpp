#include "switchboard/cluster/redis_room_directory.hpp"

#include "switchboard/cluster/presence_directory.hpp"
#include "switchboard/cluster/redis_keys.hpp"
#include "switchboard/cluster/redis_script.hpp"

#include <algorithm>
#include <charconv>

namespace switchboard {

namespace {

// Every script answers {"ok", ...} or {"err", code}. Keys of one room share the {room} hash
// tag; the user's room set and the index of all rooms (`sb:rooms`) are outside it.
//
// A user's rooms are a sorted set scored in the order the user entered them (one more than the
// highest score), so that leave_all and memberships list them as RoomManager does.
const char* const kPrelude = R"lua(
local function add_user_room(key, id)
  local last = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  local n = 1
  if #last == 2 then n = tonumber(last[2]) + 1 end
  redis.call('ZADD', key, n, id)
end
-- The key names of room_key() and user_rooms_key() in the C++, for the scripts that find the
-- rooms or the users they touch in the data itself (leave_all, memberships, page, close).
local function room_key(id, part) return 'sb:room:{' .. id .. '}' .. part end
local function user_rooms_key(user) return 'sb:user:' .. user .. ':rooms' end
-- A room's last member is gone: its keys and its place in the index go with it.
local function others(members, user)
  local out = {}
  for _, m in ipairs(members) do
    if m ~= user then out[#out + 1] = m end
  end
  return out
end
-- A command of a connection replaced since: its session no longer holds the user's presence
-- (live or parked). No presence at all (Redis restarted empty, the user released) is no
-- replacement: the command goes on, and meets the rules.
local function sb_stale(user, fence)
  if not fence or fence == '' then return false end
  local p = redis.call('HMGET', 'sb:presence:' .. user, 'sid', 'parked')
  if not p[1] and not p[2] then return false end
  return p[1] ~= fence and p[2] ~= fence
end
local function delete_room(id, index)
  redis.call('DEL', room_key(id, ''), room_key(id, ':members'), room_key(id, ':seq'),
             room_key(id, ':ready'))
  redis.call('ZREM', index, id)
end
)lua";

// Scripts that change a room tell its other members in the same step (sb_fanout publishes to
// the inbox of each node holding some of them), so every node hears a room's events in the
// order the room changed.
RedisScript room_script(const char* body) {
  return RedisScript(std::string(kFanoutLua) + kPrelude + body);
}

// KEYS: room, members, seq, user's rooms, index. ARGV: user, room id, rooms per user, max,
// fence.
const RedisScript kCreate = room_script(R"lua(
if sb_stale(ARGV[1], ARGV[5]) then return {'err', 'stale'} end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then return {'err', 'too_many_rooms'} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'err', 'room_exists'} end
redis.call('HSET', KEYS[1], 'max', ARGV[4])
redis.call('SET', KEYS[3], 1)
redis.call('ZADD', KEYS[2], 1, ARGV[1])
add_user_room(KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[2])
return {'ok', ARGV[1]}
)lua");

// KEYS: room, members, seq, user's rooms. ARGV: user, room id, rooms per user, fence.
const RedisScript kJoin = room_script(R"lua(
if sb_stale(ARGV[1], ARGV[4]) then return {'err', 'stale'} end
local max = redis.call('HGET', KEYS[1], 'max')
if not max then return {'err', 'room_not_found'} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'err', 'already_in_room'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(max) then return {'err', 'room_full'} end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then return {'err', 'too_many_rooms'} end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
add_user_room(KEYS[4], ARGV[2])
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
-- The joiner's RoomJoined goes through its node's inbox too, ahead of what the room sends
-- next: a reply on the command connection could be overtaken on the node by a PeerJoined or
-- a relay that arrives on its subscriber connection.
sb_fanout({ARGV[1]}, {k = 'room', ev = 'room_joined', room = ARGV[2], user = ARGV[1],
                      members = members})
sb_fanout(others(members, ARGV[1]), {k = 'room', ev = 'peer_joined', room = ARGV[2], user = ARGV[1]})
return {'ok', unpack(members)}
)lua");

// KEYS: room, members, seq, ready, user's rooms, index. ARGV: user, room id, fence.
const RedisScript kLeave = room_script(R"lua(
if sb_stale(ARGV[1], ARGV[3]) then return {'err', 'stale'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'room_not_found'} end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return {'err', 'not_in_room'} end
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[2])
local left = redis.call('ZRANGE', KEYS[2], 0, -1)
if #left == 0 then
  delete_room(ARGV[2], KEYS[6])
else
  sb_fanout(left, {k = 'room', ev = 'peer_left', room = ARGV[2], user = ARGV[1], host = left[1]})
end
return {'ok', unpack(left)}
)lua");

// KEYS: user's rooms, index. ARGV: user, and optionally the node and connection that must
// still hold the user's presence (then it goes too; when another holds it, nothing changes);
// connection '*' (never a connection's id) stands for any of the node's; node '~parked' (never
// a node's id) for the session parked under the id hash in ARGV[3].
// Answers {"ok", room id, {remaining...}, ...}.
const RedisScript kLeaveAll = room_script(R"lua(
if ARGV[2] == '~parked' then
  local presence = 'sb:presence:' .. ARGV[1]
  if redis.call('HGET', presence, 'parked') ~= ARGV[3] then return {'ok'} end
  redis.call('DEL', presence)
elseif ARGV[2] then
  local presence = 'sb:presence:' .. ARGV[1]
  local holder = redis.call('HMGET', presence, 'node', 'conn')
  if holder[1] ~= ARGV[2] or (ARGV[3] ~= '*' and holder[2] ~= ARGV[3]) then return {'ok'} end
  redis.call('DEL', presence)
  redis.call('SREM', 'sb:node:' .. ARGV[2] .. ':users', ARGV[1])
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
local out = {'ok'}
for _, id in ipairs(ids) do
  redis.call('ZREM', room_key(id, ':members'), ARGV[1])
  redis.call('SREM', room_key(id, ':ready'), ARGV[1])
  local left = redis.call('ZRANGE', room_key(id, ':members'), 0, -1)
  if #left == 0 then
    delete_room(id, KEYS[2])
  else
    sb_fanout(left, {k = 'room', ev = 'peer_left', room = id, user = ARGV[1], host = left[1]})
  end
  out[#out + 1] = id
  out[#out + 1] = left
end
return out
)lua");

// KEYS: room, members, ready. ARGV: user, room id, fence.
const RedisScript kReady = room_script(R"lua(
if sb_stale(ARGV[1], ARGV[3]) then return {'err', 'stale'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'room_not_found'} end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'err', 'not_in_room'} end
redis.call('SADD', KEYS[3], ARGV[1])
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
sb_fanout(others(members, ARGV[1]), {k = 'room', ev = 'peer_ready', room = ARGV[2], user = ARGV[1]})
return {'ok', unpack(members)}
)lua");

// KEYS: room, members. ARGV: from, to. The relay script's rules (PresenceDirectory), alone.
const RedisScript kCheckRelay(std::string(kRelayRulesLua) + R"lua(
local refusal = relay_refusal(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if refusal then return {'err', refusal} end
return {'ok'}
)lua");

// KEYS: user's rooms. Answers {"ok", room id, {members...}, ...}.
const RedisScript kMemberships = room_script(R"lua(
local out = {'ok'}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('ZRANGE', room_key(id, ':members'), 0, -1)
end
return out
)lua");

// KEYS: index. ARGV: the lower bound ("-" or "(after"), how many. Answers
// {"ok", room id, host, members, max, ...}.
const RedisScript kPage = room_script(R"lua(
local out = {'ok'}
for _, id in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, ARGV[2])) do
  local members = room_key(id, ':members')
  out[#out + 1] = id
  out[#out + 1] = redis.call('ZRANGE', members, 0, 0)[1] or '0'
  out[#out + 1] = redis.call('ZCARD', members)
  out[#out + 1] = redis.call('HGET', room_key(id, ''), 'max') or '0'
end
return out
)lua");

// KEYS: room, members, ready. Answers {"ok", max, {members...}, {ready...}} or {"none"}.
const RedisScript kDetail = room_script(R"lua(
local max = redis.call('HGET', KEYS[1], 'max')
if not max then return {'none'} end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local ready = {}
for _, m in ipairs(members) do
  if redis.call('SISMEMBER', KEYS[3], m) == 1 then ready[#ready + 1] = m end
end
return {'ok', max, members, ready}
)lua");

// KEYS: room, members, seq, ready, index. ARGV: room id, reason. Answers {"ok", member...} or
// {"none"}. Every member is told RoomClosed, those on the calling node too.
const RedisScript kClose = room_script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'none'} end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, m in ipairs(members) do redis.call('ZREM', user_rooms_key(m), ARGV[1]) end
delete_room(ARGV[1], KEYS[5])
sb_fanout(members, {k = 'room', ev = 'room_closed', room = ARGV[1], user = '0', reason = ARGV[2]})
return {'ok', unpack(members)}
)lua");

using namespace redis_keys;

std::optional<SignalError> signal_error(const std::string& code) {
  if (code == "room_not_found") return SignalError::room_not_found;
  if (code == "room_full") return SignalError::room_full;
  if (code == "already_in_room") return SignalError::already_in_room;
  if (code == "not_in_room") return SignalError::not_in_room;
  if (code == "peer_not_in_room") return SignalError::peer_not_in_room;
  if (code == "too_many_rooms") return SignalError::too_many_rooms;
  return std::nullopt;
}

RedisError protocol_error(const std::string& what) {
  return RedisError{RedisError::Code::unavailable, "unexpected reply from a room script: " + what};
}

/// A number as a script answers it: an integer reply, or a string of digits.
template <class T>
std::optional<T> number(const RedisReply& r) {
  if (r.type == RedisReply::Type::integer) {
    if (r.integer < 0) return std::nullopt;
    return static_cast<T>(r.integer);
  }
  if (r.type != RedisReply::Type::string) return std::nullopt;
  T n = 0;
  auto [p, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), n);
  if (ec != std::errc() || p != r.str.data() + r.str.size()) return std::nullopt;
  return n;
}

/// An array reply of user ids (members in join order, say).
Result<std::vector<UserId>, RoomDirectoryError> users(const RedisReply& r, std::size_t from = 0) {
  if (r.type != RedisReply::Type::array) return RoomDirectoryError(protocol_error("not an array"));
  std::vector<UserId> out;
  for (std::size_t i = from; i < r.elements.size(); ++i) {
    auto u = number<UserId>(r.elements[i]);
    if (!u) return RoomDirectoryError(protocol_error("member " + r.elements[i].str));
    out.push_back(*u);
  }
  return out;
}

/// The status word of a script's reply ("ok", "none"), or the rule that said no.
Result<std::string, RoomDirectoryError> status_of(const RedisReply& r) {
  if (r.is_error()) return RoomDirectoryError(protocol_error(r.str));
  if (r.type != RedisReply::Type::array || r.elements.empty()) {
    return RoomDirectoryError(protocol_error("not an array"));
  }
  const std::string& status = r.elements[0].str;
  if (status == "err") {
    std::string code = r.elements.size() > 1 ? r.elements[1].str : "";
    if (auto e = signal_error(code)) return RoomDirectoryError(*e);
    if (code == "stale") return RoomDirectoryError(Fenced{});
    return RoomDirectoryError(protocol_error(code));  // room_exists among them
  }
  return status;
}

/// The script's reply as members in join order, or the rule that said no.
Result<std::vector<UserId>, RoomDirectoryError> decode(const RedisReply& r) {
  auto status = status_of(r);
  if (!status.ok()) return status.error();
  return users(r, 1);
}

/// {"ok", room id, {members...}, ...}: each room with its members (host first), or why not.
template <class T>
Result<std::vector<T>, RoomDirectoryError> rooms_with_members(
    const Result<RedisReply, RedisError>& reply) {
  if (!reply.ok()) return RoomDirectoryError(reply.error());
  auto status = status_of(reply.value());
  if (!status.ok()) return status.error();
  const auto& e = reply.value().elements;
  if (e.size() % 2 != 1) return RoomDirectoryError(protocol_error("rooms and members"));
  std::vector<T> out;
  for (std::size_t i = 1; i < e.size(); i += 2) {
    auto members = users(e[i + 1]);
    if (!members.ok()) return members.error();
    UserId host = members.value().empty() ? 0 : members.value().front();
    out.push_back(T{e[i].str, host, std::move(members.value())});
  }
  return out;
}

std::string random_room_id() {
  // 16 bytes = 128 bits, as RoomManager's ids: knowing a room id is what admits a user.
  return random_hex(16);
}

// The most rooms one page asks Redis for: a bound on the reply, far above any admin page.
constexpr std::size_t kMaxPage = std::size_t{1} << 20;

}  // namespace

RedisRoomDirectory::RedisRoomDirectory(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                                       RoomManager::IdGenerator new_room_id)
    : redis_(std::move(redis)), limits_(limits), new_room_id_(std::move(new_room_id)) {
  if (!new_room_id_) new_room_id_ = random_room_id;
  for (const RedisScript* script : {&kCreate, &kJoin, &kLeave, &kLeaveAll, &kReady, &kCheckRelay,
                                    &kMemberships, &kPage, &kDetail, &kClose}) {
    redis_->preload_script(script->source);
  }
}

void RedisRoomDirectory::run(const std::shared_ptr<RedisClient>& redis, const RedisScript& script,
                             std::vector<std::string> keys, std::vector<std::string> args,
                             ScriptDone done) {
  run_script(redis, script, std::move(keys), std::move(args),
             [done = std::move(done)](Result<RedisReply, RedisError> reply) {
               if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
               done(decode(reply.value()));
             });
}

void RedisRoomDirectory::create(UserId creator, std::optional<std::size_t> max_members,
                                Done<Membership> done, const std::string& fence) {
  auto size = std::min(max_members.value_or(limits_.default_size), limits_.max_size);
  create_attempt(redis_, limits_, new_room_id_, creator, size, 3, fence, std::move(done));
}

void RedisRoomDirectory::create_attempt(std::shared_ptr<RedisClient> redis, RoomLimits limits,
                                        RoomManager::IdGenerator new_room_id, UserId creator,
                                        std::size_t max_members, int attempts_left,
                                        std::string fence, Done<Membership> done) {
  std::string id = new_room_id();
  run(redis, kCreate,
      {room_key(id), room_key(id, ":members"), room_key(id, ":seq"), user_rooms_key(creator),
       kRoomIndex},
      {std::to_string(creator), id, std::to_string(limits.rooms_per_user),
       std::to_string(max_members), fence},
      [redis, limits, new_room_id, creator, max_members, attempts_left, id, fence,
       done = std::move(done)](auto r) mutable {
        // An id already taken (128 random bits: only with a custom generator): draw again.
        if (!r.ok() && attempts_left > 1 && std::holds_alternative<RedisError>(r.error()) &&
            std::get<RedisError>(r.error()).message.ends_with("room_exists")) {
          return create_attempt(std::move(redis), limits, std::move(new_room_id), creator,
                                max_members, attempts_left - 1, std::move(fence), std::move(done));
        }
        if (!r.ok()) return done(r.error());
        done(Membership{id, creator, {creator}});
      });
}

void RedisRoomDirectory::join(UserId user, const std::string& room_id, Done<Membership> done,
                              const std::string& fence) {
  run(redis_, kJoin,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":seq"),
       user_rooms_key(user)},
      {std::to_string(user), room_id, std::to_string(limits_.rooms_per_user), fence},
      [room_id, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto& members = r.value();
        done(Membership{room_id, members.front(), std::move(members)});
      });
}

void RedisRoomDirectory::leave(UserId user, const std::string& room_id, Done<Departure> done,
                               const std::string& fence) {
  run(redis_, kLeave,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":seq"),
       room_key(room_id, ":ready"), user_rooms_key(user), kRoomIndex},
      {std::to_string(user), room_id, fence}, [room_id, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto& remaining = r.value();
        UserId host = remaining.empty() ? 0 : remaining.front();
        done(Departure{room_id, host, std::move(remaining)});
      });
}

void RedisRoomDirectory::leave_all(UserId user, Done<std::vector<Departure>> done) {
  run_script(redis_, kLeaveAll, {user_rooms_key(user), kRoomIndex}, {std::to_string(user)},
             [done = std::move(done)](Result<RedisReply, RedisError> reply) {
               done(rooms_with_members<Departure>(reply));
             });
}

void RedisRoomDirectory::release(UserId user, const std::string& node, const std::string& conn,
                                 Done<std::vector<Departure>> done) {
  run_script(redis_, kLeaveAll, {user_rooms_key(user), kRoomIndex},
             {std::to_string(user), node, conn},
             [done = std::move(done)](Result<RedisReply, RedisError> reply) {
               done(rooms_with_members<Departure>(reply));
             });
}

void RedisRoomDirectory::ready(UserId user, const std::string& room_id,
                               Done<std::vector<UserId>> done, const std::string& fence) {
  run(redis_, kReady,
      {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":ready")},
      {std::to_string(user), room_id, fence}, [user, done = std::move(done)](auto r) {
        if (!r.ok()) return done(r.error());
        auto others = std::move(r.value());
        std::erase(others, user);
        done(std::move(others));
      });
}

void RedisRoomDirectory::check_relay(UserId from, UserId to, const std::string& room_id,
                                     Done<std::optional<SignalError>> done) {
  run(redis_, kCheckRelay, {room_key(room_id), room_key(room_id, ":members")},
      {std::to_string(from), std::to_string(to)}, [done = std::move(done)](auto r) {
        if (r.ok()) return done(std::optional<SignalError>());
        if (auto* rule = std::get_if<SignalError>(&r.error()))
          return done(std::optional<SignalError>(*rule));
        done(r.error());
      });
}

void RedisRoomDirectory::members(const std::string& room_id,
                                 Done<std::optional<std::vector<UserId>>> done) {
  // A room is deleted with its last member, so no members is no room.
  redis_->command({"ZRANGE", room_key(room_id, ":members"), "0", "-1"},
                  [done = std::move(done)](RedisClient::Reply reply) {
                    if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
                    if (reply.value().is_error())
                      return done(RoomDirectoryError(protocol_error(reply.value().str)));
                    auto members = users(reply.value());
                    if (!members.ok()) return done(members.error());
                    if (members.value().empty()) return done(std::optional<std::vector<UserId>>());
                    done(std::optional(std::move(members.value())));
                  });
}

void RedisRoomDirectory::is_ready(UserId user, const std::string& room_id, Done<bool> done) {
  redis_->command({"SISMEMBER", room_key(room_id, ":ready"), std::to_string(user)},
                  [done = std::move(done)](RedisClient::Reply reply) {
                    if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
                    if (reply.value().type != RedisReply::Type::integer)
                      return done(RoomDirectoryError(protocol_error("SISMEMBER")));
                    done(reply.value().integer == 1);
                  });
}

void RedisRoomDirectory::memberships(UserId user, Done<std::vector<Membership>> done) {
  run_script(redis_, kMemberships, {user_rooms_key(user)}, {},
             [done = std::move(done)](Result<RedisReply, RedisError> reply) {
               done(rooms_with_members<Membership>(reply));
             });
}

void RedisRoomDirectory::page(std::string_view after, std::size_t limit,
                              Done<RoomManager::Page> done) {
  limit = std::min(limit, kMaxPage);
  // One more than the page: whether it exists says whether another page follows.
  run_script(
      redis_, kPage, {kRoomIndex},
      {after.empty() ? std::string("-") : "(" + std::string(after), std::to_string(limit + 1)},
      [limit, done = std::move(done)](Result<RedisReply, RedisError> reply) {
        if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
        auto status = status_of(reply.value());
        if (!status.ok()) return done(status.error());
        const auto& e = reply.value().elements;
        if (e.size() % 4 != 1) return done(RoomDirectoryError(protocol_error("page")));
        RoomManager::Page out;
        for (std::size_t i = 1; i < e.size() && out.rooms.size() < limit; i += 4) {
          auto host = number<UserId>(e[i + 1]);
          auto count = number<std::size_t>(e[i + 2]);
          auto max = number<std::size_t>(e[i + 3]);
          if (!host || !count || !max) return done(RoomDirectoryError(protocol_error("page")));
          out.rooms.push_back({e[i].str, *host, *count, *max});
        }
        if (e.size() / 4 > limit && !out.rooms.empty()) out.next = out.rooms.back().room_id;
        done(std::move(out));
      });
}

void RedisRoomDirectory::detail(const std::string& room_id,
                                Done<std::optional<RoomManager::Detail>> done) {
  run_script(redis_, kDetail,
             {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":ready")}, {},
             [room_id, done = std::move(done)](Result<RedisReply, RedisError> reply) {
               if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
               auto status = status_of(reply.value());
               if (!status.ok()) return done(status.error());
               if (status.value() == "none") return done(std::optional<RoomManager::Detail>());
               const auto& e = reply.value().elements;
               if (e.size() != 4) return done(RoomDirectoryError(protocol_error("detail")));
               auto max = number<std::size_t>(e[1]);
               auto members = users(e[2]);
               auto ready = users(e[3]);
               if (!max || !members.ok() || !ready.ok() || members.value().empty())
                 return done(RoomDirectoryError(protocol_error("detail")));
               UserId host = members.value().front();
               done(std::optional(RoomManager::Detail{room_id, host, std::move(members.value()),
                                                      std::move(ready.value()), *max}));
             });
}

void RedisRoomDirectory::close(const std::string& room_id, std::string_view reason,
                               Done<std::optional<std::vector<UserId>>> done) {
  run_script(redis_, kClose,
             {room_key(room_id), room_key(room_id, ":members"), room_key(room_id, ":seq"),
              room_key(room_id, ":ready"), kRoomIndex},
             {room_id, std::string(reason)},
             [done = std::move(done)](Result<RedisReply, RedisError> reply) {
               if (!reply.ok()) return done(RoomDirectoryError(reply.error()));
               auto status = status_of(reply.value());
               if (!status.ok()) return done(status.error());
               if (status.value() == "none") return done(std::optional<std::vector<UserId>>());
               auto members = users(reply.value(), 1);
               if (!members.ok()) return done(members.error());
               done(std::optional(std::move(members.value())));
             });
}

}  // namespace switchboard
