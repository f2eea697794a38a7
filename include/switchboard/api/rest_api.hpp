#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>

#include "switchboard/api/http_types.hpp"

namespace switchboard {

class AccountService;
class AdminApi;
class TicketBook;
class StaticFiles;
class ReadinessProbe;

/// Maps HTTP requests onto the account use cases and static files, and their outcomes onto
/// the status and error codes of protocol.md section 1. No sockets here: HttpSession lifts
/// requests out of Beast and writes back what `respond` is given. The WebSocket upgrade
/// itself is HttpSession's; a GET /ws that is not an upgrade is answered here (426).
class RestApi {
 public:
  using Respond = std::function<void(HttpResponse)>;

  RestApi(AccountService& accounts, TicketBook& tickets, const StaticFiles& files,
          ReadinessProbe& readiness);

  /// Answers `req`, calling `respond` exactly once, possibly later on `ex`.
  void handle(HttpRequest req, const boost::asio::any_io_executor& ex, Respond respond);

  /// Serves GET /metrics on this port with what `page` renders (Prometheus text); without a
  /// page (METRICS_ADDR set: a listener of its own serves it) /metrics is 404 here. Set before
  /// the first request.
  void set_metrics_page(std::function<std::string()> page) { metrics_page_ = std::move(page); }

  /// Hands every /admin/ path to `admin` (ADMIN_TOKEN set); without one they answer 404 like
  /// any unknown path. Set before the first request.
  void set_admin(AdminApi* admin) { admin_ = admin; }

  /// From now on every request is answered 503 unavailable.
  void begin_shutdown() { shutting_down_ = true; }

 private:
  void post_register(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                     Respond respond);
  void post_update_password(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                            Respond respond);
  void post_regenerate(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                       Respond respond);
  void post_ws_ticket(const HttpRequest& req, const boost::asio::any_io_executor& ex,
                      Respond respond);
  void get_readyz(const boost::asio::any_io_executor& ex, Respond respond);

  AccountService& accounts_;
  TicketBook& tickets_;
  const StaticFiles& files_;
  ReadinessProbe& readiness_;
  std::function<std::string()> metrics_page_;
  AdminApi* admin_ = nullptr;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace switchboard
