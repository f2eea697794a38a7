#pragma once

#include <optional>
#include <string_view>

#include "switchboard/signaling/protocol.hpp"

namespace switchboard {

/// The fast path of parse_client_message for what nearly every message is: an SDP or
/// ICECandidate relay, well formed, written plainly. It checks the JSON without decoding it
/// (json_scan) and reads the few fields a relay needs straight from the text.
///
/// Returns the message only when the full parser would accept `text` with exactly this
/// result; nullopt for anything else: another type, any error, a `from`, a duplicate or
/// escaped key, an id written as -0, deep nesting. Those take the full parser, which decides.
/// Pure; fuzzed against parse_client_message_in_full.
std::optional<ClientMessage> scan_relay(std::string_view text);

}  // namespace switchboard
