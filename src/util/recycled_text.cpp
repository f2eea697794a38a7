#include "switchboard/util/recycled_text.hpp"

#include <vector>

namespace switchboard::recycled_text {

namespace {
constexpr std::size_t kPooled = 64;
constexpr std::size_t kLargest = 16 * 1024;

struct Pool {
  std::vector<std::string*> free;
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
      if (p.free.size() < kPooled) {  // reserved: push_back does not allocate
        text->clear();
        p.free.push_back(text);
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

}  // namespace switchboard::recycled_text
