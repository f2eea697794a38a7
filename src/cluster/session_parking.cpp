#include "switchboard/cluster/session_parking.hpp"

#include "switchboard/auth/api_key.hpp"
#include "switchboard/cluster/presence_directory.hpp"
#include "switchboard/cluster/redis_keys.hpp"
#include "switchboard/cluster/redis_script.hpp"
#include "switchboard/util/encoding.hpp"

namespace switchboard {

using namespace redis_keys;

namespace {

// sb_hold, sb_abandon and sb_session_key come with kFanoutLua. sb_park is step 1 (see the
// header); sb_adopt gives the parked session to `node`'s connection `conn` and sends it
// there, or answers 0 when the session is over or no longer the user's.
const char* const kMoveLua = R"lua(
local function sb_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function sb_park(user, presence, node, conn, sid, key, window_ms, max_msgs, max_bytes,
                       code, adopter, adopter_conn)
  redis.call('DEL', presence)
  redis.call('HSET', presence, 'parked', sid, 'key', key)
  redis.call('SREM', 'sb:node:' .. node .. ':users', user)
  local s = sb_session_key(sid)
  redis.call('DEL', s, s .. ':kept', s .. ':held')
  redis.call('HSET', s, 'user', user, 'key', key, 'max_msgs', max_msgs, 'max_bytes', max_bytes,
             'held_bytes', 0, 'stored', 0)
  if adopter then redis.call('HSET', s, 'adopter', adopter, 'adopter_conn', adopter_conn) end
  redis.call('ZADD', 'sb:parked', sb_now_ms() + tonumber(window_ms), sid)
  redis.call('PUBLISH', 'sb:inbox:' .. node,
             cjson.encode({k = 'parked', user = user, conn = conn, session = sid,
                           code = tonumber(code)}))
end
local function sb_adopt(sid, node, conn)
  local s = sb_session_key(sid)
  local f = redis.call('HMGET', s, 'user', 'key', 'next_seq', 'client_seq', 'over')
  if not f[1] or f[5] then return 0 end
  local presence = 'sb:presence:' .. f[1]
  if redis.call('HGET', presence, 'parked') ~= sid then return 0 end
  local kept = redis.call('LRANGE', s .. ':kept', 0, -1)
  local held = redis.call('LRANGE', s .. ':held', 0, -1)
  redis.call('DEL', s, s .. ':kept', s .. ':held')
  redis.call('ZREM', 'sb:parked', sid)
  redis.call('DEL', presence)
  redis.call('HSET', presence, 'node', node, 'conn', conn, 'sid', sid, 'key', f[2])
  redis.call('SADD', 'sb:node:' .. node .. ':users', f[1])
  redis.call('PUBLISH', 'sb:inbox:' .. node,
             cjson.encode({k = 'adopt', user = f[1], conn = conn, session = sid,
                           next_seq = f[3], client_seq = f[4], kept = kept, held = held}))
  return 1
end
)lua";

RedisScript move_script(const char* body) {
  return RedisScript(std::string(kFanoutLua) + kMoveLua + body);
}

// KEYS: presence. ARGV: user, node, conn, window ms, max messages, max bytes, close code.
const RedisScript kPark = move_script(R"lua(
local p = redis.call('HMGET', KEYS[1], 'node', 'conn', 'sid', 'key')
if p[1] ~= ARGV[2] or p[2] ~= ARGV[3] or not p[3] or p[3] == '' then return 0 end
sb_park(ARGV[1], KEYS[1], ARGV[2], ARGV[3], p[3], p[4], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
)lua");

// KEYS: session, its kept list. ARGV: sid, next seq, client seq, then each kept message as
// "<seq> <text>", oldest first. 0 when the session is gone (ended meanwhile).
const RedisScript kStore = move_script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'next_seq', ARGV[2], 'client_seq', ARGV[3], 'stored', '1')
if #ARGV > 3 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 4)) end
local adopter = redis.call('HMGET', KEYS[1], 'adopter', 'adopter_conn')
if adopter[1] then sb_adopt(ARGV[1], adopter[1], adopter[2]) end
return 1
)lua");

// KEYS: presence. ARGV: user, key hash (hex), sid, node, conn, window ms, max messages, max
// bytes. 1 when an "adopt" envelope will come to `node`, 0 when there is nothing to resume.
const RedisScript kRequest = move_script(R"lua(
local p = redis.call('HMGET', KEYS[1], 'node', 'conn', 'sid', 'key', 'parked')
if p[4] ~= ARGV[2] then return 0 end
if p[1] then
  if p[3] ~= ARGV[3] or p[1] == ARGV[4] then return 0 end
  sb_park(ARGV[1], KEYS[1], p[1], p[2], ARGV[3], ARGV[2], ARGV[6], ARGV[7], ARGV[8], 4002,
          ARGV[4], ARGV[5])
  return 1
end
if p[5] ~= ARGV[3] then return 0 end
local f = redis.call('HMGET', sb_session_key(ARGV[3]), 'stored', 'over')
if not f[1] or f[2] then return 0 end
if f[1] == '1' then return sb_adopt(ARGV[3], ARGV[4], ARGV[5]) end
redis.call('HSET', sb_session_key(ARGV[3]), 'adopter', ARGV[4], 'adopter_conn', ARGV[5])
return 1
)lua");

// ARGV: sid.
const RedisScript kAbandon = move_script(R"lua(
sb_abandon(ARGV[1])
return 1
)lua");

// KEYS: presence. ARGV: key hash (hex).
const RedisScript kEndForKey = move_script(R"lua(
local p = redis.call('HMGET', KEYS[1], 'parked', 'key')
if p[1] and p[2] == ARGV[1] then sb_abandon(p[1]) end
return 1
)lua");

// KEYS: presence. 1 when the user had a parked session, which ends at the next sweep.
const RedisScript kEndForUser = move_script(R"lua(
local sid = redis.call('HGET', KEYS[1], 'parked')
if not sid then return 0 end
sb_abandon(sid)
return 1
)lua");

// ARGV: how many at most. Answers {user, sid, ...}.
const RedisScript kSweep = move_script(R"lua(
local out = {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', 'sb:parked', '-inf', sb_now_ms(),
                                'LIMIT', 0, tonumber(ARGV[1]))) do
  redis.call('ZREM', 'sb:parked', sid)
  local s = sb_session_key(sid)
  local user = redis.call('HGET', s, 'user')
  redis.call('DEL', s, s .. ':kept', s .. ':held')
  if user then
    out[#out + 1] = user
    out[#out + 1] = sid
  end
end
return out
)lua");

}  // namespace

SessionParking::SessionParking(std::shared_ptr<RedisClient> redis, std::string node_id)
    : redis_(std::move(redis)), node_(std::move(node_id)) {
  for (const RedisScript* script :
       {&kPark, &kStore, &kRequest, &kAbandon, &kEndForKey, &kEndForUser, &kSweep}) {
    redis_->preload_script(script->source);
  }
}

std::string SessionParking::session_hash(std::string_view session_id) {
  return hex_encode(hash_api_key(session_id));
}

void SessionParking::park(UserId user, const std::string& conn, std::uint16_t code,
                          Done<bool> done) {
  run_script(redis_, kPark, {presence_key(user)},
             {std::to_string(user), node_, conn, std::to_string(limits_.window.count()),
              std::to_string(limits_.keep.messages), std::to_string(limits_.keep.bytes),
              std::to_string(code)},
             zero_or_one(std::move(done)));
}

void SessionParking::store(const std::string& sid, const SessionState& state, Done<bool> done) {
  std::vector<std::string> args{sid, std::to_string(state.next_seq),
                                std::to_string(state.client_seq)};
  args.reserve(3 + state.kept.size());
  for (const auto& [seq, text] : state.kept) args.push_back(std::to_string(seq) + " " + text);
  run_script(redis_, kStore, {session_key(sid), session_key(sid, ":kept")}, std::move(args),
             zero_or_one(std::move(done)));
}

void SessionParking::request(UserId user, const std::string& key_hash, const std::string& sid,
                             const std::string& conn, Done<bool> done) {
  run_script(redis_, kRequest, {presence_key(user)},
             {std::to_string(user), hex_encode(key_hash), sid, node_, conn,
              std::to_string(limits_.window.count()), std::to_string(limits_.keep.messages),
              std::to_string(limits_.keep.bytes)},
             zero_or_one(std::move(done)));
}

void SessionParking::abandon(const std::string& sid) {
  run_script(redis_, kAbandon, {}, {sid}, [](RedisClient::Reply) {});
}

void SessionParking::end_for_key(UserId user, const std::string& key_hash) {
  run_script(redis_, kEndForKey, {presence_key(user)}, {hex_encode(key_hash)},
             [](RedisClient::Reply) {});
}

void SessionParking::end_for_user(UserId user, Done<bool> done) {
  run_script(redis_, kEndForUser, {presence_key(user)}, {}, zero_or_one(std::move(done)));
}

void SessionParking::sweep(std::size_t limit,
                           Done<std::vector<std::pair<UserId, std::string>>> done) {
  run_script(redis_, kSweep, {}, {std::to_string(limit)},
             [done = std::move(done)](RedisClient::Reply r) {
               if (!r.ok()) return done(r.error());
               const RedisReply& v = r.value();
               if (v.type != RedisReply::Type::array || v.elements.size() % 2 != 0) {
                 return done(unexpected_reply(v.str));
               }
               std::vector<std::pair<UserId, std::string>> out;
               for (std::size_t i = 0; i < v.elements.size(); i += 2) {
                 auto user = parse_decimal(v.elements[i].str);
                 if (!user)
                   return done(unexpected_reply("a parked session's user: " + v.elements[i].str));
                 out.emplace_back(*user, v.elements[i + 1].str);
               }
               done(std::move(out));
             });
}

}  // namespace switchboard
