// switchboard-parse-bench: what checking one relayed message costs the daemon, on the load
// generator's own SDP and ICE messages. The fast path (parse_client_message, which relays
// take) and the full nlohmann parse it falls back to (parse_client_message_in_full) are
// timed side by side in one run, best of five rounds each. A second table times the JSON
// check alone: our scan (json_scan::valid), nlohmann's DOM (parse_json) and, when the bench
// was built with libsimdjson-dev, simdjson's DOM parse and an on-demand read of the fields a
// relay checks: the measurement behind bench/analysis.md's "JSON libraries for the fast path".
//
//   switchboard-parse-bench [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "adapters.hpp"
#include "switchboard/signaling/protocol.hpp"
#include "switchboard/util/json_depth.hpp"
#include "switchboard/util/json_scan.hpp"

#if defined(SWITCHBOARD_HAVE_SIMDJSON)
#include <simdjson.h>
#endif

namespace {

using switchboard::bench::RelayKind;

constexpr switchboard::UserId kSender = 5;

/// Nanoseconds per call of `check` on `text`, the best of five rounds of `n` calls. Exits
/// when the check refuses the message: every case times an accepted relay.
template <class Check>
double time_check(const std::string& text, int n, Check check) {
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    std::size_t accepted = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) accepted += check(text) ? 1 : 0;
    std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    if (accepted != static_cast<std::size_t>(n)) {
      std::fprintf(stderr, "the message was refused: %s\n", text.c_str());
      std::exit(1);
    }
    best = std::min(best, took.count() / n);
  }
  return best;
}

bool fast_path(const std::string& text) {
  return switchboard::parse_client_message(text, kSender, 16).ok();
}

bool full_parse(const std::string& text) {
  return switchboard::parse_client_message_in_full(text, kSender, 16).ok();
}

bool scan(const std::string& text) {
  return switchboard::json_scan::valid(text, switchboard::kMaxJsonDepth);
}

bool nlohmann_dom(const std::string& text) {
  return switchboard::parse_json(text).ok();
}

#if defined(SWITCHBOARD_HAVE_SIMDJSON)
/// simdjson reads up to SIMDJSON_PADDING bytes past the text: a daemon would read frames
/// into a buffer with that slack. The copy is left out of the timing, its best case.
struct Padded {
  simdjson::padded_string text;
  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;
};

Padded& padded_for(const std::string& text) {
  static Padded p;
  if (p.text.size() != text.size() || std::string_view(p.text) != text) {
    p.text = simdjson::padded_string(text);
    if (p.dom.allocate(text.size(), switchboard::kMaxJsonDepth) != simdjson::SUCCESS) std::abort();
  }
  return p;
}

/// simdjson's validation: the whole document parsed onto its tape, depth-bounded.
bool simdjson_dom(const std::string& text) {
  auto& p = padded_for(text);
  return p.dom.parse(p.text).error() == simdjson::SUCCESS;
}

/// On demand, what relay_scan reads (msg_type, to, payload.room_id, sdp.type or candidate).
/// Not a validation: the values it skips are only checked for structure.
bool simdjson_ondemand(const std::string& text) {
  auto& p = padded_for(text);
  auto doc = p.ondemand.iterate(p.text);
  std::int64_t type = 0;
  std::uint64_t to = 0;
  std::string_view room;
  if (doc["msg_type"].get_int64().get(type) || doc["to"].get_uint64().get(to)) return false;
  auto payload = doc["payload"];
  if (payload["room_id"].get_string().get(room)) return false;
  if (type == 2) {
    std::string_view kind;
    return !payload["sdp"]["type"].get_string().get(kind);
  }
  return !payload["candidate"].error();
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  auto adapter = switchboard::bench::make_adapter(switchboard::bench::ServerKind::switchboard);
  switchboard::bench::Account to{"peer", "", 9};
  const std::string room = "AAAAAAAAAAAAAAAAAAAAAA";
  std::string messages[2];
  for (auto kind : {RelayKind::sdp, RelayKind::ice}) {
    messages[kind == RelayKind::sdp ? 0 : 1] = adapter->relay_prefix(kind, to, room) +
                                               "1234567890123456789" +
                                               std::string(adapter->relay_suffix());
  }
  // The generator sends one SDP in five messages, as a negotiation does.
  const double share[2] = {0.2, 0.8};
  const char* name[2] = {"SDP", "ICE"};

  std::printf("| message | bytes | fast path (ns) | full parse (ns) | ratio |\n");
  std::printf("|---|---|---|---|---|\n");
  double fast_mix = 0, full_mix = 0;
  for (int i = 0; i < 2; ++i) {
    double fast = time_check(messages[i], n, fast_path);
    double full = time_check(messages[i], n, full_parse);
    fast_mix += share[i] * fast;
    full_mix += share[i] * full;
    std::printf("| %s | %zu | %.0f | %.0f | %.1f× |\n", name[i], messages[i].size(), fast, full,
                full / fast);
  }
  std::printf("| the generator's mix (1 SDP in 5) | | %.0f | %.0f | %.1f× |\n", fast_mix, full_mix,
              full_mix / fast_mix);

  std::printf("\nThe JSON check alone (ns per message):\n\n");
#if defined(SWITCHBOARD_HAVE_SIMDJSON)
  std::printf("| message | json_scan::valid | nlohmann DOM | simdjson DOM | simdjson on demand |\n");
  std::printf("|---|---|---|---|---|\n");
#else
  std::printf("| message | json_scan::valid | nlohmann DOM |\n|---|---|---|\n");
#endif
  for (int i = 0; i < 2; ++i) {
    std::printf("| %s | %.0f | %.0f", name[i], time_check(messages[i], n, scan),
                time_check(messages[i], n, nlohmann_dom));
#if defined(SWITCHBOARD_HAVE_SIMDJSON)
    std::printf(" | %.0f | %.0f", time_check(messages[i], n, simdjson_dom),
                time_check(messages[i], n, simdjson_ondemand));
#endif
    std::printf(" |\n");
  }
  return 0;
}
