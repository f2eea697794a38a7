// switchboard-parse-bench: what checking one relayed message costs the daemon, on the load
// generator's own SDP and ICE messages. The fast path (parse_client_message, which relays
// take) and the full Boost.JSON parse it falls back to (parse_client_message_in_full) are
// timed side by side in one run, best of five rounds each.
//
//   switchboard-parse-bench [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "adapters.hpp"
#include "switchboard/signaling/protocol.hpp"

namespace {

using switchboard::bench::RelayKind;

constexpr switchboard::UserId kSender = 5;

/// Nanoseconds per call of `parse` on `text`, the best of five rounds of `n` calls.
template <class Parse>
double time_parse(const std::string& text, int n, Parse parse) {
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    std::size_t accepted = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) accepted += parse(text, kSender, 16).ok() ? 1 : 0;
    std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    if (accepted != static_cast<std::size_t>(n)) {
      std::fprintf(stderr, "the message was refused: %s\n", text.c_str());
      std::exit(1);
    }
    best = std::min(best, took.count() / n);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  auto adapter = switchboard::bench::make_adapter(switchboard::bench::ServerKind::switchboard);
  switchboard::bench::Account to{"peer", "", 9};
  const std::string room = "AAAAAAAAAAAAAAAAAAAAAA";
  std::printf("| message | bytes | fast path (ns) | full parse (ns) | ratio |\n");
  std::printf("|---|---|---|---|---|\n");
  double fast_mix = 0, full_mix = 0;
  for (auto kind : {RelayKind::sdp, RelayKind::ice}) {
    std::string text = adapter->relay_prefix(kind, to, room) + "1234567890123456789" +
                       std::string(adapter->relay_suffix());
    double fast = time_parse(text, n, switchboard::parse_client_message);
    double full = time_parse(text, n, switchboard::parse_client_message_in_full);
    // The generator sends one SDP in five messages, as a negotiation does.
    double share = kind == RelayKind::sdp ? 0.2 : 0.8;
    fast_mix += share * fast;
    full_mix += share * full;
    std::printf("| %s | %zu | %.0f | %.0f | %.1f× |\n", kind == RelayKind::sdp ? "SDP" : "ICE",
                text.size(), fast, full, full / fast);
  }
  std::printf("| the generator's mix (1 SDP in 5) | | %.0f | %.0f | %.1f× |\n", fast_mix, full_mix,
              full_mix / fast_mix);
  return 0;
}
