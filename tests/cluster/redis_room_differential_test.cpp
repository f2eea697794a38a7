// RedisRoomDirectory against RoomManager, side by side: a seeded random sequence of every
// operation (valid and invalid arguments, limits small enough to be hit) applied to both,
// every outcome compared, and the whole state compared at checkpoints. RoomManager is the
// reference: any difference is a rule the Lua scripts got wrong.
//
// The seed is drawn anew each run and printed with any failure; SWITCHBOARD_ROOMS_SEED=N runs
// that sequence again.
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "redis_room_fixture.hpp"
#include "support/redis_room_invariants.hpp"
#include "switchboard/signaling/room_manager.hpp"

namespace switchboard {
namespace {

using test::RedisRoomDirectoryTest;
using test::wait;
using Membership = RoomManager::Membership;
using Departure = RoomManager::Departure;

// Outcomes as text, so that one comparison covers errors and values and a difference prints
// both sides.

std::string show(const std::vector<UserId>& users) {
  std::string out = "[";
  for (UserId u : users) out += (out.size() > 1 ? "," : "") + std::to_string(u);
  return out + "]";
}
std::string show(const Membership& m) {
  return m.room_id + " host " + std::to_string(m.host) + " " + show(m.members);
}
std::string show(const Departure& d) {
  return d.room_id + " host " + std::to_string(d.host) + " " + show(d.remaining);
}
std::string show(SignalError e) {
  return "error " + std::to_string(static_cast<int>(e));
}
std::string show(const RoomDirectoryError& e) {
  if (auto* s = std::get_if<SignalError>(&e)) return show(*s);
  if (auto* r = std::get_if<RedisError>(&e)) return "RedisError " + r->message;
  return "Fenced";
}
std::string show(bool b) {
  return b ? "true" : "false";
}
std::string show(const RoomManager::Page& p) {
  std::string out;
  for (const auto& s : p.rooms) {
    out += "{" + s.room_id + " host " + std::to_string(s.host) + " " + std::to_string(s.members) +
           "/" + std::to_string(s.max_members) + "}";
  }
  return out + " next " + p.next.value_or("none");
}
std::string show(const RoomManager::Detail& d) {
  return d.room_id + " host " + std::to_string(d.host) + " " + show(d.members) + " ready " +
         show(d.ready) + " max " + std::to_string(d.max_members);
}
template <class T>
std::string show(const std::vector<T>& v) {
  std::string out;
  for (const auto& x : v) out += "{" + show(x) + "}";
  return out;
}
template <class T>
std::string show(const std::optional<T>& o) {
  return o ? show(*o) : "none";
}
template <class T, class E>
std::string show(const Result<T, E>& r) {
  return r.ok() ? "ok " + show(r.value()) : show(r.error());
}

class RedisRoomDifferentialTest : public RedisRoomDirectoryTest {
 protected:
  // Small enough that every limit is reached often.
  RoomLimits small_{3, 4, 3};
  static constexpr UserId kUsers = 8;
};

TEST_F(RedisRoomDifferentialTest, ARandomSequenceHasRoomManagersOutcomesAndState) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SWITCHBOARD_ROOMS_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (SWITCHBOARD_ROOMS_SEED=" + std::to_string(seed) +
               " repeats it)");
  std::mt19937_64 rng(seed);

  // Both draw the id of the operation under way, so that a create that fails on either side
  // uses up no id the other would then give. The ids are a permutation of the operation
  // numbers, so that room-id order is not creation order.
  std::size_t op = 0;
  auto id_of = [](std::size_t n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "r%08x", static_cast<unsigned>((n * 2654435761U) & 0xffffffffU));
    return std::string(buf);
  };
  auto next_id = [&op, id_of] { return id_of(op); };
  RoomManager reference(small_, next_id);
  auto redis = client();
  RedisRoomDirectory rooms(redis, small_, next_id);

  std::vector<std::string> ids{"nope"};  // every id ever made, and one never made
  auto any = [&](auto n) { return std::uniform_int_distribution<decltype(n)>(0, n - 1)(rng); };
  auto user = [&] { return UserId{1} + any(kUsers); };
  auto room = [&] {
    // Mostly a room that is there now, sometimes one gone or never there.
    auto live = reference.page("", 1000).rooms;
    if (!live.empty() && any(10) < 8) return live[any(live.size())].room_id;
    return ids[any(ids.size())];
  };

  auto compare_state = [&](std::size_t at) {
    SCOPED_TRACE("state after operation " + std::to_string(at));
    ASSERT_TRUE(reference.invariants_hold());
    EXPECT_EQ(test::redis_room_problems(*redis, small_), "");
    // Page through everything in small pages, as an admin would.
    std::string after;
    for (int pages = 0; pages < 1000; ++pages) {
      auto want = reference.page(after, 3);
      auto got = wait<RoomManager::Page>([&](auto done) { rooms.page(after, 3, done); });
      ASSERT_EQ(show(got), "ok " + show(want));
      for (const auto& s : want.rooms) {
        auto d = wait<std::optional<RoomManager::Detail>>(
            [&](auto done) { rooms.detail(s.room_id, done); });
        ASSERT_EQ(show(d), "ok " + show(reference.detail(s.room_id)));
      }
      if (!want.next) break;
      after = *want.next;
    }
    for (UserId u = 1; u <= kUsers; ++u) {
      auto m = wait<std::vector<Membership>>([&](auto done) { rooms.memberships(u, done); });
      ASSERT_EQ(show(m), "ok " + show(reference.memberships(u))) << "memberships of " << u;
    }
  };

  constexpr std::size_t kOps = 3000;
  for (op = 1; op <= kOps; ++op) {
    std::string what, want, got;
    switch (any(20)) {
      case 0:
      case 1:
      case 2: {
        UserId u = user();
        // No limit, one within bounds, or one past max_size (clamped); never 0.
        std::optional<std::size_t> max;
        if (any(3) != 0) max = 1 + any(std::size_t{6});
        what = "create " + std::to_string(u) + " max " + (max ? std::to_string(*max) : "none");
        auto r = reference.create(u, max);
        if (r.ok()) ids.push_back(r.value().room_id);
        want = show(r);
        got = show(wait<Membership>([&](auto done) { rooms.create(u, max, done); }));
        break;
      }
      case 3:
      case 4:
      case 5:
      case 6: {
        UserId u = user();
        std::string id = room();
        what = "join " + std::to_string(u) + " " + id;
        want = show(reference.join(u, id));
        got = show(wait<Membership>([&](auto done) { rooms.join(u, id, done); }));
        break;
      }
      case 7:
      case 8: {
        UserId u = user();
        std::string id = room();
        what = "leave " + std::to_string(u) + " " + id;
        want = show(reference.leave(u, id));
        got = show(wait<Departure>([&](auto done) { rooms.leave(u, id, done); }));
        break;
      }
      case 9:
      case 10: {
        UserId u = user();
        std::string id = room();
        what = "ready " + std::to_string(u) + " " + id;
        want = show(reference.ready(u, id));
        got = show(wait<std::vector<UserId>>([&](auto done) { rooms.ready(u, id, done); }));
        break;
      }
      case 11: {
        UserId u = user();
        what = "leave_all " + std::to_string(u);
        want = "ok " + show(reference.leave_all(u));
        got = show(wait<std::vector<Departure>>([&](auto done) { rooms.leave_all(u, done); }));
        break;
      }
      case 12:
      case 13:
      case 14: {
        UserId from = user(), to = user();
        std::string id = room();
        what = "check_relay " + std::to_string(from) + " " + std::to_string(to) + " " + id;
        want = "ok " + show(reference.check_relay(from, to, id));
        got = show(wait<std::optional<SignalError>>(
            [&](auto done) { rooms.check_relay(from, to, id, done); }));
        break;
      }
      case 15: {
        std::string id = room();
        what = "close " + id;
        want = "ok " + show(reference.close(id));
        got = show(wait<std::optional<std::vector<UserId>>>(
            [&](auto done) { rooms.close(id, "closed", done); }));
        break;
      }
      case 16: {
        std::string id = room();
        what = "members " + id;
        const auto* m = reference.members(id);
        want = "ok " + (m ? show(*m) : std::string("none"));
        got = show(
            wait<std::optional<std::vector<UserId>>>([&](auto done) { rooms.members(id, done); }));
        break;
      }
      case 17: {
        UserId u = user();
        std::string id = room();
        what = "is_ready " + std::to_string(u) + " " + id;
        want = "ok " + show(reference.is_ready(u, id));
        got = show(wait<bool>([&](auto done) { rooms.is_ready(u, id, done); }));
        break;
      }
      case 18: {
        std::string after = any(2) ? "" : room();
        std::size_t limit = any(std::size_t{5});
        what = "page after '" + after + "' limit " + std::to_string(limit);
        want = "ok " + show(reference.page(after, limit));
        got = show(wait<RoomManager::Page>([&](auto done) { rooms.page(after, limit, done); }));
        break;
      }
      default: {
        UserId u = user();
        what = "memberships " + std::to_string(u);
        want = "ok " + show(reference.memberships(u));
        got = show(wait<std::vector<Membership>>([&](auto done) { rooms.memberships(u, done); }));
        break;
      }
    }
    ASSERT_EQ(got, want) << "(Redis first, RoomManager second) operation " << op << ": " << what;
    if (op % 500 == 0) {
      compare_state(op);
      if (HasFatalFailure()) return;
    }
    if (op == kOps / 2) {
      // Redis forgets its scripts halfway (a restart): every script's EVAL fallback then runs.
      auto flushed = std::make_shared<std::promise<void>>();
      redis->command({"SCRIPT", "FLUSH"}, [flushed](RedisClient::Reply) { flushed->set_value(); });
      ASSERT_EQ(flushed->get_future().wait_for(test::kWait), std::future_status::ready);
    }
  }
  compare_state(kOps);
}

}  // namespace
}  // namespace switchboard
