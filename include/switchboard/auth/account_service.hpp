#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "switchboard/auth/identity.hpp"
#include "switchboard/util/result.hpp"

namespace switchboard {

class UserStore;
class PasswordHasher;
class WorkerPool;
class CredentialCache;
class TicketStore;
class LoginThrottle;
struct UserRecord;

/// Account failures, one-to-one with the REST error codes that report them.
enum class AccountError {
  invalid_credentials,
  invalid_api_key,
  username_taken,
  too_many_attempts,
  unavailable,
  unknown_user,  // admin API: no account has this id
};

struct AccountFailure {
  AccountError error;
  std::chrono::seconds retry_after{0};  // for too_many_attempts
};

/// The outcome of an account operation. `api_key` is set only when a key was just issued.
struct Account {
  UserId user_id = 0;
  std::string username;
  std::string api_key;
};

/// The account use cases behind the REST API: register, change password, rotate the API
/// key, authenticate a key. Inputs are already validated. Blocking work runs on the worker
/// pool; `done` is called on the executor `ex` given with the request (or inline, when the
/// answer is known without blocking).
class AccountService {
 public:
  using AccountDone = std::function<void(Result<Account, AccountFailure>)>;
  using IdentityDone = std::function<void(Result<Identity, AccountFailure>)>;
  /// Told (from a worker thread) when a key stops working, to close what it opened.
  using KeyRevoked = std::function<void(UserId, const std::string& old_key_hash)>;

  AccountService(UserStore& store, const PasswordHasher& hasher, WorkerPool& pool,
                 CredentialCache& cache, TicketStore& tickets, LoginThrottle& account_throttle,
                 LoginThrottle& address_throttle);

  void set_key_revoked_handler(KeyRevoked handler) { key_revoked_ = std::move(handler); }
  /// Called when an account is deleted, with its last key's hash (from a worker thread): in a
  /// cluster, every other daemon must forget the key too. Its sockets are the admin API's to
  /// close. Set before use.
  void set_key_deleted_handler(KeyRevoked handler) { key_deleted_ = std::move(handler); }
  /// Told (from a worker thread) of each account created (the user_registered webhook).
  using Registered = std::function<void(UserId, const std::string& username)>;
  void set_registered_handler(Registered handler) { registered_ = std::move(handler); }

  void register_user(const boost::asio::any_io_executor& ex, std::string username,
                     std::string password, AccountDone done);
  void change_password(const boost::asio::any_io_executor& ex, std::string username,
                       std::string password, std::string new_password, std::string address,
                       AccountDone done);
  void regenerate_key(const boost::asio::any_io_executor& ex, std::string username,
                      std::string password, std::string address, AccountDone done);
  void authenticate_key(const boost::asio::any_io_executor& ex, const std::string& api_key,
                        IdentityDone done);

  // The administrator's (admin API): by user id, no password.

  /// The account with id `user` (no key), or unknown_user.
  void find_user(const boost::asio::any_io_executor& ex, UserId user, AccountDone done);
  /// Deletes the account with id `user` from the store, and its key from the cache and its
  /// tickets, so that neither opens anything again; its open connections are the caller's to
  /// close. The deleted account (no key), or unknown_user.
  void delete_user(const boost::asio::any_io_executor& ex, UserId user, AccountDone done);

 private:
  /// What to do once a password has been verified; runs on the worker.
  using Verified = std::function<Result<Account, AccountFailure>(const UserRecord&)>;
  /// The store's record of `user` (on a worker).
  Result<UserRecord, AccountFailure> record_of(UserId user);
  void with_verified_password(const boost::asio::any_io_executor& ex, std::string username,
                              std::string password, std::string address, Verified then,
                              AccountDone done);

  UserStore& store_;
  const PasswordHasher& hasher_;
  WorkerPool& pool_;
  CredentialCache& cache_;
  TicketStore& tickets_;
  LoginThrottle& account_throttle_;
  LoginThrottle& address_throttle_;
  KeyRevoked key_revoked_;
  KeyRevoked key_deleted_;
  Registered registered_;
};

}  // namespace switchboard
