// switchboard-session-bench: what a Session adds to each message it hands to its connection,
// in nanoseconds, side by side in one run: a message handed straight to the connection (what
// the hub did before session resume), through a Session with keeping off (RESUME_WINDOW=0:
// numbered, nothing kept), and through a Session that keeps the latest 256 messages and
// 1 MiB for a resume (the default). The messages are the load generator's relayed SDP and
// ICE, delivered round-robin to SESSIONS sessions (default 100, as bench/run.sh's 50 pairs),
// so each keep is as cold in the cache as in the daemon. Best of five rounds each. The
// connection is a stand-in that counts and lets go: the socket's cost is the same in all
// three and is what bench/resume_cost.sh measures around these figures. A fourth row adds
// what /metrics counts for each relayed message (its type as a client message and as a
// relay, in the I/O thread's own shard, as WsSession::on_text does).
//
//   switchboard-session-bench [MESSAGES [SESSIONS]]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters.hpp"
#include "switchboard/metrics/metrics.hpp"
#include "switchboard/signaling/session.hpp"

namespace {

using switchboard::SessionCarrier;
using switchboard::SharedText;

/// The connection, reduced to taking the message and letting it go (after the count, so the
/// compiler cannot drop the call).
class CountingCarrier : public SessionCarrier {
 public:
  void carry(std::uint64_t seq, SharedText message) override { carried_ += message->size() + seq; }
  void drop(switchboard::CloseCode, std::string_view) override {}
  std::uint64_t carried() const { return carried_; }

 private:
  std::uint64_t carried_ = 0;
};

using Deliver = std::function<void(int session, SharedText message)>;

/// Nanoseconds per message of each of `paths` over `n` messages, the best of five rounds, the
/// paths taking turns within each round so that the machine's moods fall on all of them.
std::vector<double> time_delivery(const std::vector<std::string>& kinds, int n, int sessions,
                                  const std::vector<Deliver>& paths) {
  std::vector<double> best(paths.size(), 1e300);
  for (int round = 0; round < 5; ++round) {
    for (std::size_t p = 0; p < paths.size(); ++p) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) {
        // A fresh buffer per message, as a relay reads one: the same cost on every path.
        auto text = std::make_shared<const std::string>(kinds[static_cast<std::size_t>(i) % 2]);
        paths[p](i % sessions, std::move(text));
      }
      std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
      best[p] = std::min(best[p], took.count() / n);
    }
  }
  return best;
}

std::string session_id(int i) {
  std::string id(switchboard::Session::kIdLength, 'A');
  auto digits = std::to_string(i);
  std::copy(digits.begin(), digits.end(), id.begin());
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 400000;
  int sessions = argc > 2 ? std::atoi(argv[2]) : 100;
  if (n <= 0 || sessions <= 0) {
    std::fprintf(stderr, "usage: switchboard-session-bench [MESSAGES [SESSIONS]]\n");
    return 2;
  }
  auto adapter = switchboard::bench::make_adapter(switchboard::bench::ServerKind::switchboard);
  switchboard::bench::Account to{"peer", "", 9};
  const std::string room = "AAAAAAAAAAAAAAAAAAAAAA";
  std::vector<std::string> kinds;
  for (auto kind : {switchboard::bench::RelayKind::sdp, switchboard::bench::RelayKind::ice}) {
    kinds.push_back(adapter->relay_prefix(kind, to, room) + "1234567890123456789" +
                    std::string(adapter->relay_suffix()));
  }

  auto carriers = std::vector<std::shared_ptr<CountingCarrier>>();
  for (int i = 0; i < sessions; ++i) carriers.push_back(std::make_shared<CountingCarrier>());
  auto make_sessions = [&](switchboard::KeepLimits keep) {
    std::vector<std::shared_ptr<switchboard::Session>> out;
    for (int i = 0; i < sessions; ++i) {
      auto s = std::make_shared<switchboard::Session>(
          switchboard::Identity{static_cast<switchboard::UserId>(i + 1), "user", "hash"},
          session_id(i), keep);
      s->attach(carriers[static_cast<std::size_t>(i)], 0,
                [](std::uint64_t) { return std::make_shared<const std::string>("{}"); });
      out.push_back(std::move(s));
    }
    return out;
  };
  auto off = make_sessions({0, 0});

  switchboard::Metrics metrics;
  switchboard::MetricsShard& shard = metrics.local();
  // The last two paths share their sessions, so that their keeps are as warm in both.
  auto kept = make_sessions({256, 1 << 20});
  auto times = time_delivery(
      kinds, n, sessions,
      {[&](int i, SharedText text) {
         carriers[static_cast<std::size_t>(i)]->carry(0, std::move(text));
       },
       [&](int i, SharedText text) { off[static_cast<std::size_t>(i)]->deliver(std::move(text)); },
       [&](int i, SharedText text) { kept[static_cast<std::size_t>(i)]->deliver(std::move(text)); },
       [&](int i, SharedText text) {
         auto type = i % 2 == 0 ? switchboard::MsgType::sdp : switchboard::MsgType::ice_candidate;
         shard.count_client_message(
             switchboard::metric_labels::client_type(static_cast<int>(type)));
         shard.count_relay(type);
         kept[static_cast<std::size_t>(i)]->deliver(std::move(text));
       }});
  double direct = times[0], numbered = times[1], keeping = times[2], counting = times[3];
  std::uint64_t sum = 0;
  for (const auto& c : carriers) sum += c->carried();

  std::printf("%d messages (SDP %zu B and ICE %zu B, alternating) to %d sessions, best of 5\n\n", n,
              kinds[0].size(), kinds[1].size(), sessions);
  std::printf("| path | ns per message | added to the direct hand-over |\n|---|---:|---:|\n");
  std::printf("| straight to the connection (before resume) | %.1f | |\n", direct);
  std::printf("| Session, keeping off (RESUME_WINDOW=0) | %.1f | %+.1f ns |\n", numbered,
              numbered - direct);
  std::printf("| Session, keeping 256 / 1 MiB (default) | %.1f | %+.1f ns |\n", keeping,
              keeping - direct);
  std::printf("| the same, and counted in /metrics | %.1f | %+.1f ns |\n", counting,
              counting - direct);
  std::printf("\n(checksum %llu)\n", static_cast<unsigned long long>(sum));
  return 0;
}
