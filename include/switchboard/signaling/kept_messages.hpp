#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// One message a session kept, with its seq: what moves with the session when another daemon
/// takes it on (SessionState, and the cluster's "adopt" envelope).
struct KeptMessage {
  std::uint64_t seq = 0;
  std::string text;
};

/// How much a session keeps for a resume: at most `messages` of them and `bytes` in all.
/// `messages` 0: nothing is kept, resume is off.
struct KeepLimits {
  std::size_t messages = 256;
  std::size_t bytes = 1 << 20;
};

/// The latest messages a session was sent, copied into one byte ring that the session reuses,
/// oldest first, within KeepLimits. Copies rather than references: a relayed message's
/// buffer goes back to its thread's pool as soon as it is written, so the relay path keeps
/// reusing a few warm buffers. Holding a reference to each of the last 256 messages of every
/// busy session instead kept tens of thousands of buffers out of the pools, and each relay
/// paid malloc's slow path and a cold buffer for it (bench/resume_cost.sh).
///
/// The ring grows by doubling, to at most twice `bytes`: with that room a message always finds
/// a contiguous run once the oldest have made way for it, so nothing is ever moved in place.
/// Not thread-safe: the Session's lock guards it.
class KeptMessages {
 public:
  explicit KeptMessages(KeepLimits limits) : limits_(limits) {}

  /// Keeps a copy of `text`, numbered `seq` (above every kept one), letting go of the oldest
  /// as far as the limits require. A text over `bytes` by itself is not kept, and nothing
  /// before it either: a resume from before it cannot be served.
  void push(std::uint64_t seq, std::string_view text);
  /// Lets go of every message and of the ring itself.
  void clear();

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return bytes_; }
  /// The ring's size, what the keep costs in memory (for tests and measurements).
  std::size_t capacity() const { return capacity_; }
  /// The oldest kept message's seq; only when not empty.
  std::uint64_t first_seq() const { return entries_[head_].seq; }

  /// Calls `f(seq, text)` for each kept message above `after`, oldest first. `text` points
  /// into the ring: valid until the next push or clear.
  template <class F>
  void for_each_after(std::uint64_t after, F&& f) const {
    for (std::size_t i = 0; i < count_; ++i) {
      const Entry& e = entries_[(head_ + i) % entries_.size()];
      if (e.seq > after) f(e.seq, std::string_view(data_.get() + e.offset, e.size));
    }
  }

 private:
  struct Entry {
    std::uint64_t seq;
    std::size_t offset;
    std::size_t size;
  };
  const Entry& newest() const { return entries_[(head_ + count_ - 1) % entries_.size()]; }
  void pop_oldest();
  /// Where `size` more bytes go: a free contiguous run, growing the ring when there is none.
  std::size_t place(std::size_t size);
  /// Copies every kept message, oldest first, into a new ring of `capacity` bytes.
  void regrow(std::size_t capacity);
  /// Room for one more entry in the entries ring.
  void reserve_entry();

  const KeepLimits limits_;
  std::vector<Entry> entries_;  // a ring: the oldest at head_, count_ of them
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace switchboard
