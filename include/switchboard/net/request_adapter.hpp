#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/api/http_types.hpp"
#include "switchboard/signaling/session_manager.hpp"

namespace switchboard {

/// True when `peer_address` is one of the reverse proxies whose X-Forwarded-For we believe.
bool is_trusted_proxy(const std::string& peer_address,
                      const std::vector<std::string>& trusted_proxies);

/// Lifts what the API needs out of a parsed Beast request: method, path and query, content
/// type, body, the API key (X-API-Key, else Authorization: Bearer), and the client address
/// (the TCP peer, or the last X-Forwarded-For entry when the peer is a trusted proxy).
HttpRequest to_http_request(const boost::beast::http::request<boost::beast::http::string_body>& req,
                            const std::string& peer_address,
                            const std::vector<std::string>& trusted_proxies);

/// The session a /ws upgrade's query asks to resume (`resume`, `last_seq`); nullopt when it
/// asks for none or asks malformedly: either way the connection gets a fresh session.
std::optional<ResumeRequest> resume_request(std::string_view query);

}  // namespace switchboard
