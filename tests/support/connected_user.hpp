#pragma once

#include <memory>
#include <string>

#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {

/// A registered user with an open, welcomed WebSocket connection.
struct ConnectedUser {
  Registered account;
  WsClient ws;
  nlohmann::json welcome;
  std::uint64_t id() const { return account.user_id; }
};

inline std::unique_ptr<ConnectedUser> connect_user(std::uint16_t port, const std::string& name) {
  auto c = std::make_unique<ConnectedUser>();
  c->account = register_user(port, name);
  c->welcome = c->ws.connect_with_key(port, c->account.api_key);
  return c;
}

}  // namespace switchboard::test
