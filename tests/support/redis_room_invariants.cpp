#include "support/redis_room_invariants.hpp"

#include <chrono>
#include <future>
#include <memory>

namespace switchboard::test {

namespace {

// ARGV: max size, rooms per user. Answers the problems found, none when all is well.
const char* const kCheck = R"lua(
local problems = {}
local function bad(msg) problems[#problems + 1] = msg end
local max_size, per_user = tonumber(ARGV[1]), tonumber(ARGV[2])
local indexed = {}
for _, id in ipairs(redis.call('ZRANGE', 'sb:rooms', 0, -1)) do indexed[id] = true end
local rooms = {}
for _, key in ipairs(redis.call('KEYS', 'sb:room:*')) do
  local id, part = string.match(key, '^sb:room:{(.*)}(.*)$')
  if not id or (part ~= '' and part ~= ':members' and part ~= ':seq' and part ~= ':ready') then
    bad('a stray key ' .. key)
  else
    rooms[id] = true
  end
end
local memberships = 0
for id in pairs(rooms) do
  local base = 'sb:room:{' .. id .. '}'
  local max = tonumber(redis.call('HGET', base, 'max'))
  local members = redis.call('ZRANGE', base .. ':members', 0, -1)
  if not indexed[id] then bad('room ' .. id .. ' is missing from sb:rooms') end
  if not max then bad('room ' .. id .. ' has keys but no max') end
  if #members == 0 then bad('room ' .. id .. ' has no members') end
  if max and #members > max then bad('room ' .. id .. ' has ' .. #members .. ' > ' .. max) end
  if max and max > max_size then bad('room ' .. id .. ' max ' .. max .. ' > ' .. max_size) end
  if redis.call('EXISTS', base .. ':seq') == 0 then bad('room ' .. id .. ' has no seq') end
  for _, r in ipairs(redis.call('SMEMBERS', base .. ':ready')) do
    if not redis.call('ZSCORE', base .. ':members', r) then
      bad('room ' .. id .. ': ' .. r .. ' is ready but not a member')
    end
  end
  for _, m in ipairs(members) do
    if not redis.call('ZSCORE', 'sb:user:' .. m .. ':rooms', id) then
      bad('room ' .. id .. ': member ' .. m .. ' lacks it in sb:user:' .. m .. ':rooms')
    end
  end
  memberships = memberships + #members
end
for id in pairs(indexed) do
  if not rooms[id] then bad('sb:rooms lists ' .. id .. ', which has no keys') end
end
local entries = 0
for _, key in ipairs(redis.call('KEYS', 'sb:user:*:rooms')) do
  local user = string.match(key, '^sb:user:(.*):rooms$')
  local ids = redis.call('ZRANGE', key, 0, -1)
  if #ids == 0 or #ids > per_user then bad('user ' .. user .. ' is in ' .. #ids .. ' rooms') end
  for _, id in ipairs(ids) do
    if not redis.call('ZSCORE', 'sb:room:{' .. id .. '}:members', user) then
      bad('user ' .. user .. ' lists room ' .. id .. ' but is not a member')
    end
  end
  entries = entries + #ids
end
if entries ~= memberships then
  bad(memberships .. ' memberships but ' .. entries .. ' user-room entries')
end
return problems
)lua";

}  // namespace

std::string redis_room_problems(RedisClient& redis, const RoomLimits& limits) {
  auto p = std::make_shared<std::promise<std::string>>();
  auto f = p->get_future();
  redis.command(
      {"EVAL", kCheck, "0", std::to_string(limits.max_size), std::to_string(limits.rooms_per_user)},
      [p](RedisClient::Reply reply) {
        if (!reply.ok()) return p->set_value("no reply: " + reply.error().message);
        const RedisReply& r = reply.value();
        if (r.type != RedisReply::Type::array) return p->set_value("reply: " + r.str);
        std::string out;
        for (const auto& e : r.elements) out += e.str + "\n";
        p->set_value(out);
      });
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    return "the invariant check got no answer within 10 s";
  return f.get();
}

}  // namespace switchboard::test
