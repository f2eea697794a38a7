// Fuzzes the webhook sender's side of the wire: a receiver's answer, read by the same
// WebhookResponseReader the sender feeds from its socket (in chunks whose size the input
// picks), and the webhook URL parser, and an event body carrying arbitrary text.
// The reader must give one verdict that agrees with the status it read, keep it, and never
// hold more than its limits (libFuzzer's -rss_limit_mb and -timeout catch growth and hangs);
// a URL that parses must parse again to the same parts from its own pieces; a body must be
// JSON whatever bytes a reason holds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "switchboard/ops/webhook_event.hpp"
#include "switchboard/ops/webhook_response.hpp"
#include "switchboard/ops/webhook_url.hpp"

namespace {

using switchboard::WebhookReply;
using switchboard::WebhookVerdict;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "invariant broken: %s\ninput (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
  std::abort();
}

void check_verdict(const WebhookVerdict& v, std::string_view input) {
  switch (v.reply) {
    case WebhookReply::delivered:
      if (v.status < 200 || v.status > 299) fail("delivered without a 2xx", input);
      break;
    case WebhookReply::server_error:
      if (v.status < 500 || v.status > 599) fail("server_error without a 5xx", input);
      break;
    case WebhookReply::rejected:
      if (v.status < 200 || (v.status >= 200 && v.status < 300) ||
          (v.status >= 500 && v.status < 600)) {
        fail("rejected with a status that is not one", input);
      }
      break;
    case WebhookReply::bad_response:
      if (v.status >= 200) fail("bad_response with a final status", input);
      if (v.reusable) fail("a connection reused after junk", input);
      break;
  }
}

void fuzz_response(std::string_view input) {
  if (input.empty()) return;
  std::size_t chunk = static_cast<unsigned char>(input[0]) % 64 + 1;
  std::string_view bytes = input.substr(1);
  switchboard::WebhookResponseReader reader;
  std::optional<WebhookVerdict> verdict;
  for (std::size_t i = 0; i < bytes.size() && !verdict; i += chunk) {
    verdict = reader.feed(bytes.substr(i, chunk));
  }
  WebhookVerdict v = verdict ? *verdict : reader.end_of_stream();
  check_verdict(v, input);
  // Once given, the verdict stays, whatever comes after.
  auto again = reader.feed(bytes);
  if (!again || again->reply != v.reply || again->status != v.status) {
    fail("the verdict changed", input);
  }
  if (reader.end_of_stream().reply != v.reply) fail("end_of_stream changed the verdict", input);
}

void fuzz_url(std::string_view input) {
  auto url = switchboard::parse_webhook_url(input);
  if (!url) return;
  if (url->host.empty() || url->port == 0 || url->target.empty() || url->target[0] != '/') {
    fail("a parsed URL without host, port or target", input);
  }
  std::string rebuilt = (url->tls ? "https://" : "http://") + url->host_header + url->target;
  auto again = switchboard::parse_webhook_url(rebuilt);
  if (!again || again->tls != url->tls || again->host != url->host || again->port != url->port ||
      again->target != url->target || again->host_header != url->host_header) {
    fail("a parsed URL does not parse again from its parts", input);
  }
}

void fuzz_body(std::string_view input) {
  switchboard::WebhookEvent event{switchboard::WebhookEventType::room_closed,
                                  {},
                                  std::string(input.substr(0, 64)),
                                  0,
                                  std::string(input)};
  auto body = switchboard::webhook_body(event, "id");
  if (!nlohmann::json::accept(body)) fail("a body that is not JSON", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_response(input);
  fuzz_url(input);
  fuzz_body(input);
  return 0;
}
