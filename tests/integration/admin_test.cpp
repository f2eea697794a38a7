// The admin API (protocol.md section 5, docs/admin.md): off unless ADMIN_TOKEN is set, a
// bearer token, and the levers an application backend pulls: list and close rooms, look a
// user up, disconnect one, delete an account. The real daemon over real sockets.
#include <gtest/gtest.h>

#include <set>

#include "support/connected_user.hpp"
#include "support/cutting_proxy.hpp"
#include "support/daemon_process.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int kIce = 3, kError = 7, kPeerLeft = 9, kWelcome = 12, kRoomClosed = 13;
const std::string kToken = "an-admin-token-of-forty-characters-long!";

std::function<void(Settings&)> with_admin(std::function<void(Settings&)> more = {}) {
  return [more](Settings& s) {
    s.admin_token = kToken;
    if (more) more(s);
  };
}

HttpResult admin(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& body = "", const std::string& token = kToken) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return http_request(port, method, target, body, headers);
}

json ice_to(std::uint64_t to, const std::string& room, const std::string& tag) {
  return {{"msg_type", kIce},
          {"to", to},
          {"payload", {{"room_id", room}, {"candidate", {{"candidate", tag}, {"sdpMid", "0"}}}}}};
}

TEST(Admin, OffWithoutATokenEveryAdminPathIsAnUnknownPath) {
  TestServer server;
  auto unknown = http_request(server.port(), "GET", "/no-such-path");
  for (const char* path : {"/admin/rooms", "/admin/users/1", "/admin/nothing"}) {
    auto r = admin(server.port(), "GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, unknown.body) << path;
    EXPECT_EQ(r.header("www-authenticate"), "") << path;
  }
  EXPECT_EQ(admin(server.port(), "DELETE", "/admin/rooms/x").status, 404);
}

TEST(Admin, AMissingOrWrongTokenIs401WithWwwAuthenticate) {
  TestServer server(with_admin());
  std::string same_length_wrong = kToken;
  same_length_wrong.back() = '?';
  for (const std::string& token : {std::string(), std::string("short"), same_length_wrong,
                                   kToken + "x", std::string(kToken.size() * 3, 'a')}) {
    // Every path, known or not, and before any format check: nothing is told without it.
    for (const char* path : {"/admin/rooms", "/admin/users/abc", "/admin/nothing"}) {
      auto r = admin(server.port(), "GET", path, "", token);
      EXPECT_EQ(r.status, 401) << path << " with '" << token << "'";
      EXPECT_EQ(r.error_code(), "invalid_admin_token");
      EXPECT_EQ(r.header("www-authenticate"), "Bearer");
    }
  }
  // The token as X-API-Key is not the admin's header.
  auto r = http_request(server.port(), "GET", "/admin/rooms", "", {{"X-API-Key", kToken}});
  EXPECT_EQ(r.status, 401);
  // The right one passes; the metrics count it under route "admin".
  EXPECT_EQ(admin(server.port(), "GET", "/admin/rooms").status, 200);
  auto metrics = http_request(server.port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(route="admin",status="401"})"), std::string::npos);
  EXPECT_NE(metrics.find(R"(route="admin",status="200"})"), std::string::npos);
}

TEST(Admin, RoutesRefuseWrongMethodsUnknownPathsAndBadInput) {
  TestServer server(with_admin());
  auto port = server.port();
  struct Case {
    const char* method;
    const char* target;
    int status;
    const char* code;
  };
  for (const Case& c : {
           Case{"POST", "/admin/rooms", 405, "method_not_allowed"},
           Case{"PUT", "/admin/rooms/abc", 405, "method_not_allowed"},
           Case{"GET", "/admin/users/1/disconnect", 405, "method_not_allowed"},
           Case{"POST", "/admin/users/1", 405, "method_not_allowed"},
           Case{"GET", "/admin/", 404, "not_found"},
           Case{"GET", "/admin/rooms/", 404, "not_found"},
           Case{"GET", "/admin/rooms/a/b", 404, "not_found"},
           Case{"GET", "/admin/users", 404, "not_found"},
           Case{"POST", "/admin/users/1/kick", 404, "not_found"},
           Case{"GET", "/admin/rooms/no-such-room", 404, "room_not_found"},
           Case{"DELETE", "/admin/rooms/no-such-room", 404, "room_not_found"},
           Case{"GET", "/admin/users/12345", 404, "user_not_found"},
           Case{"GET", "/admin/users/0", 404, "user_not_found"},
           Case{"DELETE", "/admin/users/999", 404, "user_not_found"},
           Case{"POST", "/admin/users/999/disconnect", 404, "user_not_found"},
           Case{"GET", "/admin/users/abc", 400, "invalid_user_id"},
           Case{"GET", "/admin/users/-1", 400, "invalid_user_id"},
           Case{"GET", "/admin/users/99999999999999999999999", 400, "invalid_user_id"},
           Case{"GET", "/admin/rooms?limit=0", 400, "invalid_query"},
           Case{"GET", "/admin/rooms?limit=1001", 400, "invalid_query"},
           Case{"GET", "/admin/rooms?limit=ten", 400, "invalid_query"},
           Case{"GET", "/admin/rooms?limit=", 400, "invalid_query"},
       }) {
    auto r = admin(port, c.method, c.target);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << ": " << r.body;
    EXPECT_EQ(r.error_code(), c.code) << c.method << " " << c.target;
  }
  auto long_after = admin(port, "GET", "/admin/rooms?after=" + std::string(65, 'a'));
  EXPECT_EQ(long_after.status, 400);
  EXPECT_EQ(admin(port, "GET", "/admin/rooms/" + std::string(200, 'a')).error_code(),
            "room_not_found");
  // A body must be JSON, a reason a short non-empty string.
  auto text = http_request(port, "DELETE", "/admin/rooms/x", "reason",
                           {{"Authorization", "Bearer " + kToken}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415);
  EXPECT_EQ(admin(port, "DELETE", "/admin/rooms/x", "[1]").error_code(), "invalid_json");
  EXPECT_EQ(admin(port, "DELETE", "/admin/rooms/x", "{").error_code(), "invalid_json");
  for (const json& reason : {json(7), json(""), json(std::string(201, 'r'))}) {
    EXPECT_EQ(admin(port, "DELETE", "/admin/rooms/x", json{{"reason", reason}}.dump()).error_code(),
              "invalid_reason")
        << reason;
  }
  // The 405 says what is allowed.
  EXPECT_EQ(admin(port, "POST", "/admin/rooms").header("allow"), "GET");
}

TEST(Admin, RoomsAreListedInPagesThatWalkEveryRoomOnce) {
  TestServer server(with_admin());
  auto port = server.port();
  std::vector<std::unique_ptr<ConnectedUser>> users;
  std::set<std::string> made;
  for (int i = 0; i < 5; ++i) {
    users.push_back(connect_user(port, "user" + std::to_string(i)));
    made.insert(make_room(*users.back(), {}));
    made.insert(make_room(*users.back(), {}));
  }
  auto joiner = connect_user(port, "joiner");
  joiner->ws.send_json({{"msg_type", 1}, {"payload", {{"room_id", *made.begin()}}}});
  joiner->ws.expect(6);

  auto all = admin(port, "GET", "/admin/rooms");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.json_body["rooms"].size(), 10u);
  EXPECT_TRUE(all.json_body["next"].is_null());
  const json& first = all.json_body["rooms"][0];
  EXPECT_EQ(first["room_id"], *made.begin());
  EXPECT_EQ(first["members"], 2);
  EXPECT_EQ(first["max_members"], 16);
  EXPECT_TRUE(first["host"].is_number_unsigned());

  std::vector<std::string> walked;
  std::string after;
  int pages = 0;
  for (;;) {
    auto r = admin(port, "GET", "/admin/rooms?limit=3" + (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_LE(r.json_body["rooms"].size(), 3u);
    for (const auto& room : r.json_body["rooms"]) walked.push_back(room["room_id"]);
    ++pages;
    ASSERT_LE(pages, 4);
    if (r.json_body["next"].is_null()) break;
    after = r.json_body["next"];
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(walked, std::vector<std::string>(made.begin(), made.end()));
  // Other parameters, even one whose value says limit=, leave the default.
  auto other = admin(port, "GET", "/admin/rooms?x=limit%3D0&xlimit=0");
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(other.json_body["rooms"].size(), 10u);
}

TEST(Admin, ARoomIsShownWithMembersHostAndReadySet) {
  TestServer server(with_admin());
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  auto carol = connect_user(server.port(), "carol");
  std::string room = make_room(*alice, {bob.get(), carol.get()}, {{"max_members", 5}});
  carol->ws.send_json({{"msg_type", 10}, {"payload", {{"room_id", room}}}});
  alice->ws.expect(11);
  bob->ws.expect(11);
  auto r = admin(server.port(), "GET", "/admin/rooms/" + room);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["room_id"], room);
  EXPECT_EQ(r.json_body["host"], alice->id());
  EXPECT_EQ(r.json_body["members"], json::array({alice->id(), bob->id(), carol->id()}));
  EXPECT_EQ(r.json_body["ready"], json::array({carol->id()}));
  EXPECT_EQ(r.json_body["max_members"], 5);
  // HEAD answers as GET does, without the body.
  EXPECT_EQ(admin(server.port(), "HEAD", "/admin/rooms/" + room).status, 200);
}

TEST(Admin, ClosingARoomSendsRoomClosedToEveryMemberAndRemovesIt) {
  TestServer server(with_admin());
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  auto carol = connect_user(server.port(), "carol");
  std::string room = make_room(*alice, {bob.get(), carol.get()});
  std::string other = make_room(*bob, {});
  auto r = admin(server.port(), "DELETE", "/admin/rooms/" + room,
                 json{{"reason", "the meeting is over"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["reason"], "the meeting is over");
  EXPECT_EQ(r.json_body["members"], json::array({alice->id(), bob->id(), carol->id()}));
  for (auto* u : {alice.get(), bob.get(), carol.get()}) {
    auto closed = u->ws.expect(kRoomClosed);
    EXPECT_EQ(closed["from"], 0);
    EXPECT_EQ(closed["payload"], json({{"room_id", room}, {"reason", "the meeting is over"}}));
  }
  // The room is gone: for the admin, for a join, for a relay; and nobody saw a PeerLeft.
  EXPECT_EQ(admin(server.port(), "GET", "/admin/rooms/" + room).status, 404);
  carol->ws.send_json({{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  EXPECT_EQ(carol->ws.expect(kError)["payload"]["code"], "room_not_found");
  alice->ws.send_json(ice_to(bob->id(), room, "x"));
  EXPECT_EQ(alice->ws.expect(kError)["payload"]["code"], "room_not_found");
  EXPECT_EQ(alice->ws.pending() + bob->ws.pending() + carol->ws.pending(), 0u);
  // Bob's other room is untouched, and the members may make new ones.
  EXPECT_EQ(admin(server.port(), "GET", "/admin/rooms/" + other).status, 200);
  make_room(*carol, {alice.get()});
  // Without a body the reason is closed_by_admin; a second close finds nothing.
  auto again = admin(server.port(), "DELETE", "/admin/rooms/" + other);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(bob->ws.expect(kRoomClosed)["payload"]["reason"], "closed_by_admin");
  EXPECT_EQ(admin(server.port(), "DELETE", "/admin/rooms/" + other).error_code(), "room_not_found");
}

TEST(Admin, ADetachedSessionKeepsRoomClosedForItsResume) {
  TestServer server(with_admin());
  CuttingProxy proxy(server.port());
  auto alice_account = register_user(server.port(), "alice");
  WsClient alice;
  ASSERT_EQ(alice.connect(proxy.port(), "/ws", {{"X-API-Key", alice_account.api_key}}), 101);
  std::string session = alice.expect(kWelcome)["payload"]["session"];
  auto bob = connect_user(server.port(), "bob");
  alice.send_json({{"msg_type", 0}});
  auto created = alice.expect(5);
  std::string room = created["payload"]["room_id"];
  bob->ws.send_json({{"msg_type", 1}, {"payload", {{"room_id", room}}}});
  bob->ws.expect(6);
  auto joined = alice.expect(8);
  std::uint64_t last_seq = joined["seq"];

  ASSERT_EQ(proxy.cut_all(), 1u);
  ASSERT_TRUE(server.wait_detached(1));
  ASSERT_EQ(admin(server.port(), "DELETE", "/admin/rooms/" + room).status, 200);
  EXPECT_EQ(bob->ws.expect(kRoomClosed)["payload"]["room_id"], room);

  WsClient back;
  ASSERT_EQ(
      back.connect(server.port(), "/ws?resume=" + session + "&last_seq=" + std::to_string(last_seq),
                   {{"X-API-Key", alice_account.api_key}}),
      101);
  auto welcome = back.expect(kWelcome);
  EXPECT_EQ(welcome["payload"]["resumed"], true);
  EXPECT_EQ(welcome["payload"]["rooms"], json::array());
  auto closed = back.expect(kRoomClosed);
  EXPECT_EQ(closed["payload"]["room_id"], room);
  EXPECT_EQ(closed["seq"], last_seq + 1);
  EXPECT_EQ(bob->ws.pending(), 0u) << "no PeerLeft for anyone";
}

TEST(Admin, AUserIsShownWithPresenceAndRooms) {
  TestServer server(with_admin());
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  std::string room = make_room(*alice, {bob.get()});
  auto r = admin(server.port(), "GET", "/admin/users/" + std::to_string(bob->id()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["user_id"], bob->id());
  EXPECT_EQ(r.json_body["username"], "bob");
  EXPECT_EQ(r.json_body["online"], true);
  EXPECT_EQ(r.json_body["rooms"],
            json::array({{{"room_id", room},
                          {"host", alice->id()},
                          {"members", json::array({alice->id(), bob->id()})}}}));
  auto offline = register_user(server.port(), "carol");
  auto c = admin(server.port(), "GET", "/admin/users/" + std::to_string(offline.user_id));
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.json_body["online"], false);
  EXPECT_EQ(c.json_body["rooms"], json::array());
  EXPECT_FALSE(c.json_body.contains("api_key"));
}

TEST(Admin, DisconnectClosesWith4003EndsTheSessionAndLeavesItsRooms) {
  TestServer server(with_admin());
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  std::string room = make_room(*alice, {bob.get()});
  std::string session = alice->welcome["payload"]["session"];
  auto r =
      admin(server.port(), "POST", "/admin/users/" + std::to_string(alice->id()) + "/disconnect");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body, json({{"user_id", alice->id()}, {"disconnected", true}}));
  EXPECT_EQ(alice->ws.wait_closed(), 4003);
  // As an ended session: PeerLeft, bob is host now.
  auto left = bob->ws.expect(kPeerLeft);
  EXPECT_EQ(left["payload"]["user_id"], alice->id());
  EXPECT_EQ(left["payload"]["host"], bob->id());
  // No resume afterward.
  WsClient back;
  ASSERT_EQ(back.connect(server.port(), "/ws?resume=" + session + "&last_seq=0",
                         {{"X-API-Key", alice->account.api_key}}),
            101);
  EXPECT_EQ(back.expect(kWelcome)["payload"]["resumed"], false);
  // Known but offline now (the new connection aside, a user without one): 200, false.
  back.close();
  auto again =
      admin(server.port(), "POST", "/admin/users/" + std::to_string(alice->id()) + "/disconnect");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json_body["disconnected"], false);
}

TEST(Admin, DeletingAUserClosesWith4001AndTheKeyStopsWorkingEverywhere) {
  TestServer server(with_admin());
  auto alice = connect_user(server.port(), "alice");
  auto bob = connect_user(server.port(), "bob");
  make_room(*alice, {bob.get()});
  auto ticket = http_request(server.port(), "POST", "/ws-ticket", "",
                             {{"X-API-Key", alice->account.api_key}});
  ASSERT_EQ(ticket.status, 200);
  auto r = admin(server.port(), "DELETE", "/admin/users/" + std::to_string(alice->id()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["username"], "alice");
  EXPECT_EQ(r.json_body["deleted"], true);
  EXPECT_EQ(r.json_body["disconnected"], true);
  EXPECT_EQ(alice->ws.wait_closed(), 4001);
  EXPECT_EQ(bob->ws.expect(kPeerLeft)["payload"]["user_id"], alice->id());
  // The key opens nothing: REST, /ws by header, a ticket obtained before.
  EXPECT_EQ(
      http_request(server.port(), "POST", "/ws-ticket", "", {{"X-API-Key", alice->account.api_key}})
          .status,
      401);
  WsClient by_key;
  EXPECT_EQ(by_key.connect(server.port(), "/ws", {{"X-API-Key", alice->account.api_key}}), 401);
  WsClient by_ticket;
  EXPECT_EQ(by_ticket.connect(server.port(),
                              "/ws?ticket=" + ticket.json_body["ticket"].get<std::string>()),
            401);
  // The store no longer has it: unknown to the admin, its password refused, its name free.
  EXPECT_EQ(admin(server.port(), "GET", "/admin/users/" + std::to_string(alice->id())).status, 404);
  EXPECT_EQ(admin(server.port(), "DELETE", "/admin/users/" + std::to_string(alice->id())).status,
            404);
  auto login = http_post_json(server.port(), "/regenerate",
                              {{"Username", "alice"}, {"Password", "correct horse battery"}});
  EXPECT_EQ(login.status, 401);
  auto again = register_user(server.port(), "alice");
  EXPECT_NE(again.user_id, alice->id());
  WsClient fresh;
  EXPECT_EQ(fresh.connect(server.port(), "/ws", {{"X-API-Key", again.api_key}}), 101);
}

TEST(Admin, DeletingAnOfflineUserRemovesTheAccount) {
  TestServer server(with_admin());
  auto carol = register_user(server.port(), "carol");
  auto r = admin(server.port(), "DELETE", "/admin/users/" + std::to_string(carol.user_id));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["disconnected"], false);
  EXPECT_EQ(
      http_request(server.port(), "POST", "/ws-ticket", "", {{"X-API-Key", carol.api_key}}).status,
      401);
}

/// The user routes on both account stores: a SQLite file and a PostgreSQL database.
class AdminStoreTest : public ::testing::TestWithParam<SqlDialect> {
 protected:
  TestServer server_{with_store(GetParam(), with_admin())};
};

INSTANTIATE_TEST_SUITE_P(Stores, AdminStoreTest,
                         ::testing::Values(SqlDialect::sqlite, SqlDialect::postgresql),
                         [](const auto& p) { return dialect_test_name(p.param); });

TEST_P(AdminStoreTest, UsersAreFoundByIdAndDeletedFromTheStore) {
  auto port = server_.port();
  auto alice = register_user(port, "alice");
  auto bob = register_user(port, "bob");
  auto carol = register_user(port, "carol");
  // By id, among neighbours: exactly that account.
  auto r = admin(port, "GET", "/admin/users/" + std::to_string(bob.user_id));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json_body["username"], "bob");
  ASSERT_EQ(admin(port, "DELETE", "/admin/users/" + std::to_string(bob.user_id)).status, 200);
  // A deleted id between two live ones is unknown, not its neighbour.
  EXPECT_EQ(admin(port, "GET", "/admin/users/" + std::to_string(bob.user_id)).error_code(),
            "user_not_found");
  EXPECT_EQ(
      admin(port, "GET", "/admin/users/" + std::to_string(carol.user_id)).json_body["username"],
      "carol");
  EXPECT_EQ(
      admin(port, "GET", "/admin/users/" + std::to_string(alice.user_id)).json_body["username"],
      "alice");
  // The store forgot the key as well as the name.
  EXPECT_EQ(http_request(port, "POST", "/ws-ticket", "", {{"X-API-Key", bob.api_key}}).status, 401);
  EXPECT_EQ(http_post_json(port, "/register",
                           {{"Username", "BOB"}, {"Password", "correct horse battery"}})
                .status,
            201);
}

TEST(Admin, AShortTokenRefusesTheStartWithOneLine) {
  TempDir dir;
  auto env = daemon_test_env(dir.file("sb.db"));
  env["ADMIN_TOKEN"] = "thirty-one-characters-long-oops";
  ASSERT_EQ(env["ADMIN_TOKEN"].size(), 31u);
  DaemonProcess d({}, env, dir.file("log"));
  EXPECT_EQ(d.wait_exit(), 2);
  auto log = read_file(dir.file("log"));
  EXPECT_NE(log.find("admin_token"), std::string::npos) << log;
  EXPECT_NE(log.find("32"), std::string::npos) << log;
  EXPECT_EQ(log.find(env["ADMIN_TOKEN"]), std::string::npos) << "the token is a secret: " << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

}  // namespace
}  // namespace switchboard::test
