#pragma once

#include <memory>
#include <string>
#include <vector>

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

/// Creates a room as `host` (CreateRoom with `payload`) and has `members` join it in order,
/// checking RoomCreated and RoomJoined and consuming the PeerJoined each join sends the earlier
/// members, so every client's next message is whatever the test does next. Returns the id.
inline std::string make_room(ConnectedUser& host, std::initializer_list<ConnectedUser*> members,
                             nlohmann::json payload = nlohmann::json::object()) {
  host.ws.send_json({{"msg_type", 0}, {"payload", std::move(payload)}});
  auto created = host.ws.expect(5);
  EXPECT_EQ(created["payload"]["host"], host.id());
  EXPECT_EQ(created["from"], 0);
  std::string room = created["payload"].value("room_id", "");
  std::vector<ConnectedUser*> joined = {&host};
  for (ConnectedUser* m : members) {
    m->ws.send_json({{"msg_type", 1}, {"payload", {{"room_id", room}}}});
    m->ws.expect(6);
    for (ConnectedUser* earlier : joined) {
      EXPECT_EQ(earlier->ws.expect(8)["payload"]["user_id"], m->id());
    }
    joined.push_back(m);
  }
  return room;
}

/// A registered user whose client never reads: its socket's buffers fill, and it answers no
/// ping. It has joined a room that `host` created for it (`room`).
struct NonReadingUser {
  Registered account;
  WsClient ws;
  std::string room;
};

/// Makes `out` such a user, named `name`. Use with ASSERT_NO_FATAL_FAILURE.
inline void join_without_reading(std::uint16_t port, ConnectedUser& host, const std::string& name,
                                 NonReadingUser& out) {
  out.account = register_user(port, name);
  ASSERT_EQ(out.ws.connect(port, "/ws", {{"X-API-Key", out.account.api_key}}, false), 101);
  out.room = make_room(host, {});
  out.ws.send_json({{"msg_type", 1}, {"payload", {{"room_id", out.room}}}});
  EXPECT_EQ(host.ws.expect(8)["payload"]["user_id"], out.account.user_id);
}

}  // namespace switchboard::test
