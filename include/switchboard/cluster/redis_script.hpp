#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/cluster/redis_client.hpp"

namespace switchboard {

/// A Lua script for Redis, with its SHA-1 computed here so that it runs by EVALSHA without a
/// SCRIPT LOAD round trip first.
struct RedisScript {
  std::string source;
  std::string sha1;  // hex

  explicit RedisScript(std::string lua);
};

/// Runs `script` with EVALSHA; when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH)
/// it is sent again with EVAL, which also caches it. `done` gets the script's reply (which
/// may be a Redis error reply) or why there is none, on the client's strand. `script` must
/// outlive the call (scripts are constants).
void run_script(const std::shared_ptr<RedisClient>& redis, const RedisScript& script,
                std::vector<std::string> keys, std::vector<std::string> args,
                RedisClient::Callback done);

/// A reply of a shape the caller's script never gives (a bug or a version skew): `what` was
/// found instead. Counted as Redis not answering usefully.
RedisError unexpected_reply(const std::string& what);

/// For a script that answers 0 or 1: `done` gets false or true, the RedisError when there is
/// no reply, unexpected_reply for anything else.
RedisClient::Callback zero_or_one(std::function<void(Result<bool, RedisError>)> done);

/// `bytes` random bytes (OpenSSL's CSPRNG) in lowercase hex: room ids, node tokens.
std::string random_hex(std::size_t bytes);

}  // namespace switchboard
