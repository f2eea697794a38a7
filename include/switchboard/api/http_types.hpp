#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard {

/// The parts of an HTTP request the API looks at, lifted out of Beast so that the API code is
/// plain C++ that unit tests and fuzzers can drive without sockets.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string query;   // after '?', undecoded
  std::string content_type;
  std::string body;
  std::string api_key;         // from X-API-Key or Authorization: Bearer
  std::string bearer;          // from Authorization: Bearer only (the admin API's token)
  std::string client_address;  // after trusted-proxy resolution
  std::string if_none_match;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The error body of the spec: {"error": {"code": ..., "message": ...}}.
HttpResponse error_response(unsigned status, std::string_view code, std::string_view message);

/// Whether a Content-Type names application/json (parameters such as charset allowed).
bool is_json_media_type(std::string_view content_type);

/// The value of query parameter `name` (percent-decoded), or empty.
std::string query_param(std::string_view query, std::string_view name);

}  // namespace switchboard
