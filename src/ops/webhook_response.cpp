#include "switchboard/ops/webhook_response.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace switchboard {

namespace http = boost::beast::http;

namespace {
WebhookReply reply_for(unsigned status) {
  if (status < 200) return WebhookReply::bad_response;  // only ever interim: no answer yet
  if (status >= 200 && status < 300) return WebhookReply::delivered;
  if (status >= 500 && status < 600) return WebhookReply::server_error;
  return WebhookReply::rejected;
}
}  // namespace

WebhookResponseReader::WebhookResponseReader() {
  reset_parser();
}

void WebhookResponseReader::reset_parser() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(kBodyLimit);
  parser_->eager(true);
}

bool WebhookResponseReader::trips_final_chunk_assert() const {
  // Boost 1.81's chunk parser, given a bare last chunk "0\r\n" and then one byte more, asserts
  // it holds at least 5 bytes (boostorg/beast#2861, fixed in 1.86); builds with assertions on
  // abort there. Four bytes that begin with a last chunk can never end the message (a trailer
  // or the final CRLF needs two more), so waiting for the fifth changes no verdict.
  return pending_.size() == 4 && pending_.starts_with("0\r\n") && parser_->is_header_done() &&
         parser_->chunked();
}

WebhookVerdict WebhookResponseReader::from_header(bool reusable) const {
  unsigned status = parser_->get().result_int();
  return {reply_for(status), status, reusable};
}

WebhookVerdict WebhookResponseReader::settle(WebhookVerdict v) {
  // Junk is junk even when well framed (a status below 100, like "000"): not a connection to
  // send the next request over.
  if (v.reply == WebhookReply::bad_response) v.reusable = false;
  verdict_ = v;
  pending_.clear();
  pending_.shrink_to_fit();
  return v;
}

std::optional<WebhookVerdict> WebhookResponseReader::feed(std::string_view bytes) {
  if (verdict_) return verdict_;
  total_ += bytes.size();
  if (total_ > kMaxBytes) {
    // The status stands if it was read; the connection is not worth reading further.
    return settle(parser_->is_header_done() ? from_header(false) : WebhookVerdict{});
  }
  pending_.append(bytes);
  while (!pending_.empty()) {
    if (trips_final_chunk_assert()) return std::nullopt;
    boost::beast::error_code ec;
    std::size_t used = parser_->put(boost::asio::buffer(pending_), ec);
    pending_.erase(0, used);
    // The parser wants the rest presented again with new bytes after it, never alone (its
    // chunk parser counts on that: the fuzzer found an assertion when it was not so).
    if (ec == http::error::need_more) return std::nullopt;
    if (ec) return settle(parser_->is_header_done() ? from_header(false) : WebhookVerdict{});
    if (!parser_->is_done()) {
      if (used == 0) return std::nullopt;
      continue;
    }
    unsigned status = parser_->get().result_int();
    if (status >= 100 && status < 200) {
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      reset_parser();
      continue;
    }
    // Bytes after the response would be read as the next one's: not on this connection.
    return settle({reply_for(status), status, pending_.empty() && parser_->keep_alive()});
  }
  return std::nullopt;
}

WebhookVerdict WebhookResponseReader::end_of_stream() {
  if (verdict_) return *verdict_;
  // No status line yet (nothing, or an interim response only): no answer. (A parser that has
  // read nothing would take the end of the stream as a whole default "200 OK".)
  if (!parser_->is_header_done()) return settle({});
  // A body that ran to the end of the stream, or one cut short: either way the status
  // stands, on a connection that is over.
  return settle(from_header(false));
}

}  // namespace switchboard
