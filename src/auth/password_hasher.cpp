#include "switchboard/auth/password_hasher.hpp"

#include <sodium.h>

#include <stdexcept>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

PasswordHasher::PasswordHasher(std::uint64_t opslimit, std::size_t memlimit)
    : opslimit_(opslimit), memlimit_(memlimit) {
  auto dummy = hash(random_token(24));
  if (!dummy) throw std::runtime_error("cannot allocate memory for Argon2id");
  dummy_hash_ = std::move(*dummy);
}

std::optional<std::string> PasswordHasher::hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  auto start = std::chrono::steady_clock::now();
  int failed = crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_,
                                     crypto_pwhash_ALG_ARGON2ID13);
  if (observer_) observer_(false, std::chrono::steady_clock::now() - start);
  if (failed != 0) return std::nullopt;
  return std::string(out);
}

bool PasswordHasher::verify(std::string_view password,
                            const std::optional<std::string>& encoded) const {
  const std::string& target = encoded ? *encoded : dummy_hash_;
  auto start = std::chrono::steady_clock::now();
  bool match = crypto_pwhash_str_verify(target.c_str(), password.data(), password.size()) == 0;
  if (observer_) observer_(true, std::chrono::steady_clock::now() - start);
  return match && encoded.has_value();
}

}  // namespace switchboard
