#pragma once

#include <string>

namespace switchboard {

/// Configures spdlog's default logger: stderr, one line per event, at `level`.
/// (Standard output carries only the `listening on` line, which scripts read.)
void init_logging(const std::string& level);

}  // namespace switchboard
