#include "switchboard/util/recycled_text.hpp"

#include <vector>

namespace switchboard::recycled_text {

namespace {
// Bounds of one thread's pool: at most kPooledBytes of capacity in at most kPooled strings.
// 500 busy pairs keep about a thousand relays in flight on a thread; with 64 strings most of
// them missed the pool and took malloc's slow path (5% of the daemon's time at 500 pairs).
constexpr std::size_t kPooled = 1024;
constexpr std::size_t kPooledBytes = 4 * 1024 * 1024;
constexpr std::size_t kLargest = 16 * 1024;

struct Pool {
  std::vector<std::string*> free;
  std::size_t bytes = 0;  // capacity held by `free`
  Pool() { free.reserve(kPooled); }
  ~Pool();
};

// Set once the thread's pool is destroyed: a string released during the thread's exit, after
// that, is freed instead. Trivially destructible, so it outlives the pool.
thread_local bool pool_gone = false;

Pool& pool() {
  thread_local Pool p;
  return p;
}

Pool::~Pool() {
  pool_gone = true;
  for (std::string* s : free) delete s;
}

struct Recycle {
  void operator()(const std::string* released) const noexcept {
    auto* text = const_cast<std::string*>(released);
    if (!pool_gone && text->capacity() <= kLargest) {
      Pool& p = pool();
      if (p.free.size() < kPooled && p.bytes + text->capacity() <= kPooledBytes) {
        text->clear();
        p.bytes += text->capacity();
        p.free.push_back(text);  // reserved: does not allocate
        return;
      }
    }
    delete text;
  }
};
}  // namespace

std::unique_ptr<std::string> take() {
  if (!pool_gone) {
    Pool& p = pool();
    if (!p.free.empty()) {
      std::unique_ptr<std::string> kept(p.free.back());
      p.free.pop_back();
      p.bytes -= kept->capacity();
      return kept;
    }
  }
  return std::make_unique<std::string>();
}

std::shared_ptr<const std::string> share(std::unique_ptr<std::string> text) {
  // Should the control block's allocation throw, the constructor hands the string to Recycle.
  return std::shared_ptr<const std::string>(text.release(), Recycle{});
}

std::size_t pooled() {
  return pool_gone ? 0 : pool().free.size();
}

std::size_t pooled_bytes() {
  return pool_gone ? 0 : pool().bytes;
}

}  // namespace switchboard::recycled_text
