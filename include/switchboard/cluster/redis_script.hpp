#pragma once

#include <cstddef>
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

/// `bytes` random bytes (OpenSSL's CSPRNG) in lowercase hex: room ids, node tokens.
std::string random_hex(std::size_t bytes);

}  // namespace switchboard
