#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// What a webhook receiver's answer means for the event.
enum class WebhookReply {
  delivered,     // 2xx
  rejected,      // 4xx, or another status that no retry will change (3xx: not followed)
  server_error,  // 5xx: retried
  bad_response,  // not HTTP, too large before the status was known, or cut short: retried
};

struct WebhookVerdict {
  WebhookReply reply = WebhookReply::bad_response;
  unsigned status = 0;    // 0 when no status line was read
  bool reusable = false;  // the connection may carry the next request
};

/// Reads one receiver's HTTP response from the bytes as they arrive, within fixed limits (a
/// receiver that answers junk or an endless body costs at most kMaxBytes of memory), and says
/// what it means. Interim 1xx responses are skipped. The sender feeds it what each read
/// brings; the fuzzer feeds it arbitrary bytes. Pure: no sockets.
class WebhookResponseReader {
 public:
  static constexpr std::size_t kHeaderLimit = 8 * 1024;
  static constexpr std::size_t kBodyLimit = 16 * 1024;
  /// Bytes read in all (interim responses included) before the answer counts as junk.
  static constexpr std::size_t kMaxBytes = 64 * 1024;

  WebhookResponseReader();

  /// The verdict once the bytes so far decide it (the response is complete, or cannot be
  /// one); nullopt while more are needed.
  std::optional<WebhookVerdict> feed(std::string_view bytes);
  /// The receiver closed the connection: the verdict now.
  WebhookVerdict end_of_stream();
  /// The verdict, once given.
  const std::optional<WebhookVerdict>& verdict() const { return verdict_; }

 private:
  using Parser = boost::beast::http::response_parser<boost::beast::http::string_body>;
  void reset_parser();
  /// Whether presenting pending_ now would trip an assertion in Boost 1.81's chunk parser.
  bool trips_final_chunk_assert() const;
  /// The verdict from a status whose body could not be read to its end (the status stands).
  WebhookVerdict from_header(bool reusable) const;
  WebhookVerdict settle(WebhookVerdict v);

  std::optional<Parser> parser_;
  std::string pending_;  // bytes the parser has not consumed yet (an incomplete header)
  std::size_t total_ = 0;
  std::optional<WebhookVerdict> verdict_;
};

}  // namespace switchboard
