#pragma once

#include <chrono>
#include <ostream>
#include <string>

#include "switchboard/config/settings.hpp"

namespace switchboard {

/// The address `--probe` connects to: the daemon's own SERVER_HOST, except that a wildcard
/// bind address (0.0.0.0, ::, or empty) is reached through the matching loopback address.
std::string probe_host(const std::string& server_host);

/// `switchboard --probe`: a health check that needs nothing but the binary, for a container's
/// HEALTHCHECK (the image has no curl). GETs /healthz from the daemon configured by the same
/// settings, within `timeout` for the whole exchange, and prints one line on `out`.
/// Returns the process exit status: 0 on HTTP 200, 1 on anything else (refused, timed out,
/// another status).
int run_probe(const Settings& settings, std::ostream& out,
              std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace switchboard
