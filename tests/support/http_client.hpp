#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace switchboard::test {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed, closed or timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json_body;  // parsed body when it is JSON, else null
  std::string error;         // why there was no response

  std::string error_code() const;  // json_body["error"]["code"] or ""
  std::string header(const std::string& lower_name) const;
};

/// One HTTP/1.1 request over a fresh connection, bounded by `timeout`.
HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// POST with a JSON body and Content-Type: application/json.
HttpResult http_post_json(std::uint16_t port, const std::string& target, const nlohmann::json& body,
                          const std::vector<std::pair<std::string, std::string>>& headers = {});

/// Writes raw bytes on a fresh connection and reads until the server closes or `timeout`
/// passes; returns what was read. For requests no well-formed client would send.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace switchboard::test
