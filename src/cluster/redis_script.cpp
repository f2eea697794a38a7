#include "switchboard/cluster/redis_script.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

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

std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr);
  return to_hex(digest, len);
}
}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  RAND_bytes(buffer.data(), static_cast<int>(buffer.size()));
  return to_hex(buffer.data(), buffer.size());
}

RedisError unexpected_reply(const std::string& what) {
  return RedisError{RedisError::Code::unavailable, "unexpected reply from Redis: " + what};
}

RedisClient::Callback zero_or_one(std::function<void(Result<bool, RedisError>)> done) {
  return [done = std::move(done)](RedisClient::Reply r) {
    if (!r.ok()) return done(r.error());
    if (r.value().type != RedisReply::Type::integer) return done(unexpected_reply(r.value().str));
    done(r.value().integer == 1);
  };
}

RedisScript::RedisScript(std::string lua) : source(std::move(lua)), sha1(sha1_hex(source)) {}

void run_script(const std::shared_ptr<RedisClient>& redis, const RedisScript& script,
                std::vector<std::string> keys, std::vector<std::string> args,
                RedisClient::Callback done) {
  std::vector<std::string> command{"EVALSHA", script.sha1, std::to_string(keys.size())};
  command.insert(command.end(), std::make_move_iterator(keys.begin()),
                 std::make_move_iterator(keys.end()));
  command.insert(command.end(), std::make_move_iterator(args.begin()),
                 std::make_move_iterator(args.end()));
  // The command is copied into the callback only for the rare NOSCRIPT resend.
  redis->command(
      command, [redis, &script, command, done = std::move(done)](RedisClient::Reply reply) mutable {
        if (reply.ok() && reply.value().is_error() && reply.value().str.starts_with("NOSCRIPT")) {
          command[0] = "EVAL";
          command[1] = script.source;
          return redis->command(std::move(command), std::move(done));
        }
        done(std::move(reply));
      });
}

}  // namespace switchboard
