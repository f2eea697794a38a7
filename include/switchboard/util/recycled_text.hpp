#pragma once

#include <memory>
#include <string>

namespace switchboard {

/// Strings for relayed messages, reused instead of freed. A relayed SDP is a few kilobytes:
/// too large for malloc's per-thread cache, so each one took malloc's slow path twice (about
/// 4% of the daemon's time at saturation). Each thread keeps up to 1,024 released strings
/// with their capacity, 4 MiB in all: as many as 500 busy pairs keep in flight. A string
/// over 16 KiB, or one released while the thread's pool is full, is freed as usual. A pooled
/// string only grows, so after a while most have room for an SDP: a queued ICE candidate
/// may hold a few KB (a slow reader's queue stays within ws_send_queue × ws_max_message).
namespace recycled_text {

/// An empty string, with the capacity of one released earlier on this thread when there is one.
std::unique_ptr<std::string> take();

/// `text` shared by every recipient; when the last one lets go, the string goes back to the
/// pool of the thread that let go.
std::shared_ptr<const std::string> share(std::unique_ptr<std::string> text);

/// Strings in this thread's pool, and their capacity in bytes (for tests).
std::size_t pooled();
std::size_t pooled_bytes();

}  // namespace recycled_text
}  // namespace switchboard
