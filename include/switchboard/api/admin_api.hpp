#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "switchboard/api/http_types.hpp"
#include "switchboard/auth/identity.hpp"

namespace switchboard {

class AccountService;
class Hub;

/// The application backend's view and levers (protocol.md section 5, docs/admin.md): list and
/// inspect rooms, close a room, look a user up, disconnect one, delete an account. Behind
/// `Authorization: Bearer <ADMIN_TOKEN>`, checked before anything else, so that a caller
/// without the token learns nothing about which admin paths exist. No sockets here: RestApi
/// hands it every /admin/ path when ADMIN_TOKEN is set.
class AdminApi {
 public:
  using Respond = std::function<void(HttpResponse)>;

  /// Rooms per page of GET /admin/rooms: by default, and at most.
  static constexpr std::size_t kDefaultPage = 100;
  static constexpr std::size_t kMaxPage = 1000;
  /// The longest `reason` a DELETE /admin/rooms/{id} may give, in bytes.
  static constexpr std::size_t kMaxReason = 200;

  AdminApi(std::string_view token, Hub& hub, AccountService& accounts);

  /// Answers a request for a path under /admin/, calling `respond` exactly once, possibly
  /// later on `ex` (the user routes go to the account store on the worker pool).
  void handle(const HttpRequest& req, const boost::asio::any_io_executor& ex, Respond respond);

 private:
  /// Compares digests of both tokens with sodium_memcmp: constant in time whatever the
  /// presented token's content or length.
  bool authorized(std::string_view presented) const;

  // The room routes ask the hub, which answers at once (one daemon) or from Redis (a
  // cluster): `respond` is called on `ex` either way.
  void list_rooms(const HttpRequest& req, const Respond& respond);
  void get_room(const std::string& room_id, const Respond& respond);
  void close_room(const HttpRequest& req, const std::string& room_id, const Respond& respond);
  void get_user(UserId user, const boost::asio::any_io_executor& ex, Respond respond);
  void disconnect_user(UserId user, const boost::asio::any_io_executor& ex, Respond respond);
  void delete_user(UserId user, const boost::asio::any_io_executor& ex, Respond respond);

  std::array<unsigned char, 32> token_digest_{};
  Hub& hub_;
  AccountService& accounts_;
};

}  // namespace switchboard
