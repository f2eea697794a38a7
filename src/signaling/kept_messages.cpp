#include "switchboard/signaling/kept_messages.hpp"

#include <algorithm>
#include <cstring>

namespace switchboard {

namespace {
/// The first ring a session gets: a few ICE candidates' worth, doubled as it needs more.
constexpr std::size_t kFirstCapacity = 4096;
/// The first entries ring, doubled up to the message limit.
constexpr std::size_t kFirstEntries = 16;
}  // namespace

void KeptMessages::push(std::uint64_t seq, std::string_view text) {
  if (limits_.messages == 0) return;
  if (text.size() > limits_.bytes) {
    clear();
    return;
  }
  while (count_ > 0 && (count_ >= limits_.messages || bytes_ + text.size() > limits_.bytes)) {
    pop_oldest();
  }
  reserve_entry();
  std::size_t offset = place(text.size());
  if (!text.empty()) std::memcpy(data_.get() + offset, text.data(), text.size());
  entries_[(head_ + count_) % entries_.size()] = Entry{seq, offset, text.size()};
  ++count_;
  bytes_ += text.size();
}

void KeptMessages::clear() {
  std::vector<Entry>().swap(entries_);
  data_.reset();
  head_ = count_ = capacity_ = bytes_ = 0;
}

void KeptMessages::pop_oldest() {
  bytes_ -= entries_[head_].size;
  head_ = (head_ + 1) % entries_.size();
  if (--count_ == 0) head_ = 0;
}

void KeptMessages::reserve_entry() {
  if (count_ < entries_.size()) return;
  std::vector<Entry> grown;
  grown.reserve(std::min(std::max(kFirstEntries, 2 * entries_.size()), limits_.messages));
  for (std::size_t i = 0; i < count_; ++i) grown.push_back(entries_[(head_ + i) % entries_.size()]);
  grown.resize(grown.capacity());
  entries_ = std::move(grown);
  head_ = 0;
}

std::size_t KeptMessages::place(std::size_t size) {
  if (count_ == 0) {
    if (capacity_ >= size) return 0;
  } else {
    std::size_t first = entries_[head_].offset;
    std::size_t end = newest().offset + newest().size;
    if (newest().offset >= first) {  // one run, [first, end): room after it, or before it
      if (capacity_ - end >= size) return end;
      if (first >= size) return 0;
    } else if (first - end >= size) {  // wrapped: [first, ...) then [0, end); room between
      return end;
    }
  }
  // No run is long enough. Twice the byte limit always has one (what is kept plus the new
  // message is at most the limit, so the free space is at least the limit plus the message,
  // and it lies in at most two runs), so this stops growing there.
  regrow(std::min(std::max({bytes_ + size, 2 * capacity_, kFirstCapacity}), 2 * limits_.bytes));
  return bytes_;
}

void KeptMessages::regrow(std::size_t capacity) {
  auto grown = std::make_unique_for_overwrite<char[]>(capacity);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    Entry& e = entries_[(head_ + i) % entries_.size()];
    if (e.size > 0) std::memcpy(grown.get() + at, data_.get() + e.offset, e.size);
    e.offset = at;
    at += e.size;
  }
  data_ = std::move(grown);
  capacity_ = capacity;
}

}  // namespace switchboard
