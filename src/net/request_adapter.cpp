#include "switchboard/net/request_adapter.hpp"

#include <algorithm>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

namespace http = boost::beast::http;

namespace {
std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}
}  // namespace

bool is_trusted_proxy(const std::string& peer_address,
                      const std::vector<std::string>& trusted_proxies) {
  return std::find(trusted_proxies.begin(), trusted_proxies.end(), peer_address) !=
         trusted_proxies.end();
}

HttpRequest to_http_request(const http::request<http::string_body>& req,
                            const std::string& peer_address,
                            const std::vector<std::string>& trusted_proxies) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  std::string_view target = req.target();
  auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.content_type = std::string(req[http::field::content_type]);
  r.body = req.body();
  r.if_none_match = std::string(req[http::field::if_none_match]);
  if (auto auth = req[http::field::authorization];
      auth.size() > 7 && ascii_lower(auth.substr(0, 7)) == "bearer ") {
    r.bearer = trim(auth.substr(7));
  }
  if (auto key = req["X-API-Key"]; !key.empty()) {
    r.api_key = trim(key);
  } else {
    r.api_key = r.bearer;
  }
  r.client_address = peer_address;
  // Behind a proxy we trust, the client is the address that proxy appended last.
  if (is_trusted_proxy(peer_address, trusted_proxies)) {
    std::string_view xff = req["X-Forwarded-For"];
    if (!xff.empty()) {
      auto last =
          trim(xff.substr(xff.rfind(',') == std::string_view::npos ? 0 : xff.rfind(',') + 1));
      if (!last.empty()) r.client_address = last;
    }
  }
  return r;
}

std::optional<ResumeRequest> resume_request(std::string_view query) {
  std::string id = query_param(query, "resume");
  if (id.empty()) return std::nullopt;
  std::string last = query_param(query, "last_seq");
  if (last.empty()) return ResumeRequest{std::move(id), 0, {}};
  auto n = parse_decimal(last);
  if (!n) return std::nullopt;
  return ResumeRequest{std::move(id), *n, {}};
}

}  // namespace switchboard
