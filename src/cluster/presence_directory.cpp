#include "switchboard/cluster/presence_directory.hpp"

#include "switchboard/cluster/redis_keys.hpp"
#include "switchboard/cluster/redis_script.hpp"

namespace switchboard {

using namespace redis_keys;

const char* const kFanoutLua = R"lua(
-- A parked session (SessionParking) is 'sb:session:<sid>', a hash (user, key, limits,
-- held_bytes, over, ...), with its lists ':kept' and ':held'; its deadline is its score in
-- 'sb:parked'. What is sent to it waits in ':held'; past its limits the session is over: its
-- deadline becomes 0, and the next sweep ends it (its rooms are left).
local function sb_session_key(sid, part) return 'sb:session:' .. sid .. (part or '') end
local function sb_hold(sid, payload)
  local s = sb_session_key(sid)
  local f = redis.call('HMGET', s, 'max_msgs', 'max_bytes', 'over')
  if not f[1] or f[3] then return end
  local n = redis.call('RPUSH', sb_session_key(sid, ':held'), payload)
  local bytes = redis.call('HINCRBY', s, 'held_bytes', #payload)
  if n > tonumber(f[1]) or bytes > tonumber(f[2]) then
    redis.call('HSET', s, 'over', '1')
    redis.call('ZADD', 'sb:parked', 0, sid)
  end
end
-- The session is over now (overflowed, revoked, replaced): the next sweep ends it.
local function sb_abandon(sid)
  local s = sb_session_key(sid)
  if redis.call('EXISTS', s) == 0 then return end
  redis.call('HSET', s, 'over', '1')
  redis.call('ZADD', 'sb:parked', 0, sid)
end
local function sb_fanout(users, event)
  local by_node = {}
  for _, u in ipairs(users) do
    local p = redis.call('HMGET', 'sb:presence:' .. u, 'node', 'parked')
    if p[1] then
      if not by_node[p[1]] then by_node[p[1]] = {} end
      table.insert(by_node[p[1]], u)
    elseif p[2] then
      event.to = {u}
      sb_hold(p[2], cjson.encode(event))
    end
  end
  for node, to in pairs(by_node) do
    event.to = to
    redis.call('PUBLISH', 'sb:inbox:' .. node, cjson.encode(event))
  end
end
)lua";

const char* const kRelayRulesLua = R"lua(
local function relay_refusal(room, members, from, to)
  if redis.call('EXISTS', room) == 0 then return 'room_not_found' end
  if not redis.call('ZSCORE', members, from) then return 'not_in_room' end
  if not redis.call('ZSCORE', members, to) then return 'peer_not_in_room' end
  return nil
end
)lua";

namespace {

// KEYS: presence. ARGV: user, node, conn, session id hash ('' for none), key hash (hex).
// Returns the previous {node, conn} or {}. A session parked for the user is over: the new
// connection's leave_all has its rooms.
const RedisScript kClaim(std::string(kFanoutLua) + R"lua(
local old = redis.call('HMGET', KEYS[1], 'node', 'conn', 'parked')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'node', ARGV[2], 'conn', ARGV[3], 'sid', ARGV[4], 'key', ARGV[5])
redis.call('SADD', 'sb:node:' .. ARGV[2] .. ':users', ARGV[1])
if old[3] then sb_abandon(old[3]) end
if not old[1] then return {} end
if old[1] ~= ARGV[2] then
  redis.call('SREM', 'sb:node:' .. old[1] .. ':users', ARGV[1])
  redis.call('PUBLISH', 'sb:inbox:' .. old[1],
             cjson.encode({k = 'replace', user = ARGV[1], conn = old[2]}))
end
return {old[1], old[2]}
)lua");

// KEYS: presence. ARGV: user, node, conn. 1 when the presence was ours and went.
const RedisScript kRelease(R"lua(
local cur = redis.call('HMGET', KEYS[1], 'node', 'conn')
if cur[1] ~= ARGV[2] or cur[2] ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', 'sb:node:' .. ARGV[2] .. ':users', ARGV[1])
return 1
)lua");

// KEYS: room, members. ARGV: from, to, room id (unused: the keys carry it), text. A parked
// target's relay waits for its resume, as a detached session's does on its daemon.
const RedisScript kRelay(std::string(kFanoutLua) + kRelayRulesLua + R"lua(
local refusal = relay_refusal(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if refusal then return refusal end
local p = redis.call('HMGET', 'sb:presence:' .. ARGV[2], 'node', 'parked')
local payload = 'D ' .. ARGV[2] .. '\n' .. ARGV[4]
if p[1] then
  redis.call('PUBLISH', 'sb:inbox:' .. p[1], payload)
elseif p[2] then
  sb_hold(p[2], payload)
else
  return 'peer_not_in_room'
end
return 'ok'
)lua");

// KEYS: presence. ARGV: user, session hash, text. Sends `text` to the session wherever it is
// now (a node, or parked); nothing when the user has another session by now.
const RedisScript kSend(std::string(kFanoutLua) + R"lua(
local p = redis.call('HMGET', KEYS[1], 'node', 'sid', 'parked')
local payload = 'D ' .. ARGV[1] .. '\n' .. ARGV[3]
if p[1] and p[2] == ARGV[2] then
  redis.call('PUBLISH', 'sb:inbox:' .. p[1], payload)
elseif p[3] == ARGV[2] then
  sb_hold(ARGV[2], payload)
end
return 1
)lua");

}  // namespace

PresenceDirectory::PresenceDirectory(std::shared_ptr<RedisClient> redis, std::string node_id)
    : redis_(std::move(redis)), node_(std::move(node_id)) {
  for (const RedisScript* script : {&kClaim, &kRelease, &kRelay, &kSend}) {
    redis_->preload_script(script->source);
  }
}

void PresenceDirectory::claim(UserId user, const std::string& conn, const std::string& session,
                              const std::string& key, Done<std::optional<PresenceHolder>> done) {
  run_script(redis_, kClaim, {presence_key(user)},
             {std::to_string(user), node_, conn, session, key},
             [done = std::move(done)](RedisClient::Reply r) {
               if (!r.ok()) return done(r.error());
               const RedisReply& v = r.value();
               if (v.type != RedisReply::Type::array) return done(unexpected_reply(v.str));
               if (v.elements.empty()) return done(std::optional<PresenceHolder>{});
               if (v.elements.size() != 2)
                 return done(unexpected_reply("a holder of the wrong shape"));
               done(std::optional<PresenceHolder>{{v.elements[0].str, v.elements[1].str}});
             });
}

void PresenceDirectory::release(UserId user, const std::string& conn, Done<bool> done) {
  run_script(redis_, kRelease, {presence_key(user)}, {std::to_string(user), node_, conn},
             zero_or_one(std::move(done)));
}

void PresenceDirectory::present(UserId user, Done<bool> done) {
  redis_->command({"EXISTS", presence_key(user)}, zero_or_one(std::move(done)));
}

void PresenceDirectory::locate(const std::vector<UserId>& users,
                               Done<std::vector<std::optional<PresenceHolder>>> done) {
  if (users.empty()) return done(std::vector<std::optional<PresenceHolder>>{});
  // One reply for all: the HMGETs go out together (pipelined) and are answered in order.
  struct Gather {
    std::vector<std::optional<PresenceHolder>> holders;
    std::size_t answered = 0;
    std::optional<RedisError> error;
    Done<std::vector<std::optional<PresenceHolder>>> done;
  };
  auto g = std::make_shared<Gather>();
  g->holders.resize(users.size());
  g->done = std::move(done);
  for (std::size_t i = 0; i < users.size(); ++i) {
    redis_->command({"HMGET", presence_key(users[i]), "node", "conn"}, [g, i, n = users.size()](
                                                                           RedisClient::Reply r) {
      if (!r.ok()) {
        if (!g->error) g->error = r.error();
      } else if (r.value().type == RedisReply::Type::array && r.value().elements.size() == 2 &&
                 !r.value().elements[0].is_nil()) {
        g->holders[i] = PresenceHolder{r.value().elements[0].str, r.value().elements[1].str};
      }
      if (++g->answered < n) return;
      if (g->error) return g->done(*g->error);
      g->done(std::move(g->holders));
    });
  }
}

void PresenceDirectory::send(UserId user, const std::string& session, const std::string& text) {
  if (session.empty()) return;
  run_script(redis_, kSend, {presence_key(user)}, {std::to_string(user), session, text},
             [](RedisClient::Reply) {});
}

void PresenceDirectory::relay(UserId from, UserId to, const std::string& room_id,
                              const std::string& text, Done<std::optional<SignalError>> done) {
  run_script(redis_, kRelay, {room_key(room_id), room_key(room_id, ":members")},
             {std::to_string(from), std::to_string(to), room_id, text},
             [done = std::move(done)](RedisClient::Reply r) {
               if (!r.ok()) return done(r.error());
               const std::string& s = r.value().str;
               if (r.value().is_error()) return done(unexpected_reply(s));
               if (s == "ok") return done(std::optional<SignalError>{});
               if (s == "room_not_found") return done(std::optional(SignalError::room_not_found));
               if (s == "not_in_room") return done(std::optional(SignalError::not_in_room));
               if (s == "peer_not_in_room")
                 return done(std::optional(SignalError::peer_not_in_room));
               done(unexpected_reply(s));
             });
}

}  // namespace switchboard
