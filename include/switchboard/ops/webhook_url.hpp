#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// Where webhooks go, taken apart: `http(s)://HOST[:PORT][/PATH[?QUERY]]`.
struct WebhookUrl {
  bool tls = false;
  std::string host;  // a DNS name or an IP literal (IPv6 without its brackets)
  std::uint16_t port = 0;
  std::string target;       // the request target: the path and query, "/" when absent
  std::string host_header;  // HOST[:PORT] as the URL wrote it (brackets kept), for Host:
};

/// Parses `text`; nullopt for another scheme, user info (`user:pass@`), a fragment, an empty
/// or malformed host, a port outside 1..65535, or a byte outside printable ASCII.
std::optional<WebhookUrl> parse_webhook_url(std::string_view text);

}  // namespace switchboard
