#pragma once

#include <string>
#include <vector>

namespace switchboard {

/// A Redis reply copied out of hiredis (whose redisReply dies with its callback), as a plain
/// value the rest of the daemon can keep, move across threads and compare.
struct RedisReply {
  enum class Type { nil, integer, string, status, error, array };

  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
  bool is_nil() const { return type == Type::nil; }
};

/// Why a command got no reply: Redis cannot be reached (connection down, lost while the
/// command was pending, refused our AUTH, client stopped), or it did not answer in time.
/// A reply that Redis itself marks as an error is a RedisReply of Type::error, not this.
struct RedisError {
  enum class Code { unavailable, timeout };
  Code code = Code::unavailable;
  std::string message;
};

}  // namespace switchboard
