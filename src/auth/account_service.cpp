#include "switchboard/auth/account_service.hpp"

#include <algorithm>

#include "switchboard/auth/api_key.hpp"
#include "switchboard/auth/credential_cache.hpp"
#include "switchboard/auth/login_throttle.hpp"
#include "switchboard/auth/password_hasher.hpp"
#include "switchboard/auth/ticket_store.hpp"
#include "switchboard/store/user_store.hpp"
#include "switchboard/util/encoding.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/util/worker_pool.hpp"

namespace switchboard {

namespace {
using AccountResult = Result<Account, AccountFailure>;

AccountFailure failure(AccountError e) {
  return AccountFailure{e, std::chrono::seconds{0}};
}

AccountFailure from_store(StoreError e) {
  return failure(e == StoreError::username_taken ? AccountError::username_taken
                                                 : AccountError::unavailable);
}

std::string address_key(const std::string& address) {
  return "addr:" + address;
}
std::string account_key(const std::string& username) {
  return "user:" + ascii_lower(username);
}
}  // namespace

AccountService::AccountService(UserStore& store, const PasswordHasher& hasher, WorkerPool& pool,
                               CredentialCache& cache, TicketStore& tickets,
                               LoginThrottle& account_throttle, LoginThrottle& address_throttle)
    : store_(store),
      hasher_(hasher),
      pool_(pool),
      cache_(cache),
      tickets_(tickets),
      account_throttle_(account_throttle),
      address_throttle_(address_throttle) {}

void AccountService::register_user(const boost::asio::any_io_executor& ex, std::string username,
                                   std::string password, AccountDone done) {
  auto job = [this, username = std::move(username), password = std::move(password)]() {
    auto hash = hasher_.hash(password);
    if (!hash) return AccountResult(failure(AccountError::unavailable));
    std::string key = generate_api_key();
    auto created = store_.create_user(username, *hash, hash_api_key(key));
    if (!created) return AccountResult(from_store(created.error()));
    const UserRecord& user = created.value();
    cache_.put(Identity{user.id, user.username, user.api_key_hash});
    log_info("user registered", {{"user_id", user.id}, {"username", user.username}});
    if (registered_) registered_(user.id, user.username);
    return AccountResult(Account{user.id, user.username, std::move(key)});
  };
  if (!pool_.try_run(ex, std::move(job), done)) done(failure(AccountError::unavailable));
}

void AccountService::with_verified_password(const boost::asio::any_io_executor& ex,
                                            std::string username, std::string password,
                                            std::string address, Verified then, AccountDone done) {
  // Refuse a locked-out account or address before spending a hash on it.
  auto wait = std::max(account_throttle_.retry_after(account_key(username)),
                       address_throttle_.retry_after(address_key(address)));
  if (wait.count() > 0) {
    done(AccountFailure{AccountError::too_many_attempts, wait});
    return;
  }
  auto job = [this, username = std::move(username), password = std::move(password),
              address = std::move(address), then = std::move(then)]() {
    auto found = store_.find_by_username(username);
    if (!found && found.error() != StoreError::not_found) {
      return AccountResult(from_store(found.error()));
    }
    // An unknown user is verified against a dummy hash: same cost, same answer.
    std::optional<std::string> encoded;
    if (found) encoded = found.value().password_hash;
    if (!hasher_.verify(password, encoded)) {
      account_throttle_.record_failure(account_key(username));
      address_throttle_.record_failure(address_key(address));
      log_warn("failed password", {{"username", username}, {"remote_addr", address}});
      return AccountResult(failure(AccountError::invalid_credentials));
    }
    account_throttle_.record_success(account_key(username));
    return then(found.value());
  };
  if (!pool_.try_run(ex, std::move(job), done)) done(failure(AccountError::unavailable));
}

void AccountService::change_password(const boost::asio::any_io_executor& ex, std::string username,
                                     std::string password, std::string new_password,
                                     std::string address, AccountDone done) {
  auto then = [this, new_password = std::move(new_password)](const UserRecord& user) {
    auto hash = hasher_.hash(new_password);
    if (!hash) return AccountResult(failure(AccountError::unavailable));
    auto updated = store_.update_password(user.id, *hash);
    if (!updated) return AccountResult(from_store(updated.error()));
    log_info("password changed", {{"user_id", user.id}});
    return AccountResult(Account{user.id, user.username, {}});
  };
  with_verified_password(ex, std::move(username), std::move(password), std::move(address),
                         std::move(then), std::move(done));
}

void AccountService::regenerate_key(const boost::asio::any_io_executor& ex, std::string username,
                                    std::string password, std::string address, AccountDone done) {
  auto then = [this](const UserRecord& user) {
    std::string key = generate_api_key();
    std::string key_hash = hash_api_key(key);
    auto updated = store_.update_api_key(user.id, key_hash);
    if (!updated) return AccountResult(from_store(updated.error()));
    // The old key stops working everywhere at once: cache, tickets, open sockets.
    cache_.revoke(user.api_key_hash);
    tickets_.revoke(user.id, user.api_key_hash);
    if (key_revoked_) key_revoked_(user.id, user.api_key_hash);
    cache_.put(Identity{user.id, user.username, key_hash});
    log_info("API key rotated", {{"user_id", user.id}});
    return AccountResult(Account{user.id, user.username, std::move(key)});
  };
  with_verified_password(ex, std::move(username), std::move(password), std::move(address),
                         std::move(then), std::move(done));
}

void AccountService::authenticate_key(const boost::asio::any_io_executor& ex,
                                      const std::string& api_key, IdentityDone done) {
  using IdentityResult = Result<Identity, AccountFailure>;
  if (!plausible_api_key(api_key)) {
    done(failure(AccountError::invalid_api_key));
    return;
  }
  std::string key_hash = hash_api_key(api_key);
  if (auto hit = cache_.find(key_hash)) {
    done(std::move(*hit));
    return;
  }
  pool_.run(
      ex,
      [this, key_hash = std::move(key_hash)]() {
        auto found = store_.find_by_key_hash(key_hash);
        if (!found) {
          return IdentityResult(failure(found.error() == StoreError::not_found
                                            ? AccountError::invalid_api_key
                                            : AccountError::unavailable));
        }
        cache_.put(found.value());
        return IdentityResult(std::move(found).value());
      },
      std::move(done));
}

}  // namespace switchboard

namespace switchboard {

Result<UserRecord, AccountFailure> AccountService::record_of(UserId user) {
  // The store looks records up by name or key; by id, the export's page of one (ids above
  // user - 1, in id order, on the primary key) finds it just as directly.
  if (user == 0) return failure(AccountError::unknown_user);
  auto page = store_.list_users(user - 1, 1);
  if (!page) return failure(AccountError::unavailable);
  if (page.value().empty() || page.value().front().id != user) {
    return failure(AccountError::unknown_user);
  }
  return std::move(page.value().front());
}

void AccountService::find_user(const boost::asio::any_io_executor& ex, UserId user,
                               AccountDone done) {
  pool_.run(
      ex,
      [this, user]() {
        auto found = record_of(user);
        if (!found) return AccountResult(found.error());
        return AccountResult(Account{found.value().id, found.value().username, {}});
      },
      std::move(done));
}

void AccountService::delete_user(const boost::asio::any_io_executor& ex, UserId user,
                                 AccountDone done) {
  pool_.run(
      ex,
      [this, user]() {
        auto found = record_of(user);
        if (!found) return AccountResult(found.error());
        const UserRecord& record = found.value();
        auto deleted = store_.delete_user(user);
        if (!deleted) {
          return AccountResult(failure(deleted.error() == StoreError::not_found
                                           ? AccountError::unknown_user
                                           : AccountError::unavailable));
        }
        // As a rotated key: gone from memory, its tickets void, and a lookup that read it from
        // the store just before the delete may not put it back.
        cache_.revoke(record.api_key_hash);
        tickets_.revoke(user, record.api_key_hash);
        if (key_deleted_) key_deleted_(user, record.api_key_hash);
        log_info("user deleted by an administrator", {{"user_id", user}});
        return AccountResult(Account{record.id, record.username, {}});
      },
      std::move(done));
}

}  // namespace switchboard
