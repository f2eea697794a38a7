#include "switchboard/util/recycled_text.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace switchboard {
namespace {

// Each test runs on a thread of its own, so it starts with an empty pool.
template <typename Body>
void on_fresh_thread(Body body) {
  std::thread(body).join();
}

TEST(RecycledText, AReleasedStringComesBackWithItsCapacity) {
  on_fresh_thread([] {
    EXPECT_EQ(recycled_text::pooled(), 0u);
    auto text = recycled_text::take();
    text->assign(3000, 'x');
    const char* buffer = text->data();
    auto shared = recycled_text::share(std::move(text));
    auto second_holder = shared;
    EXPECT_EQ(*second_holder, std::string(3000, 'x'));
    shared.reset();
    EXPECT_EQ(recycled_text::pooled(), 0u);  // still held
    second_holder.reset();
    EXPECT_EQ(recycled_text::pooled(), 1u);
    auto again = recycled_text::take();
    EXPECT_EQ(recycled_text::pooled(), 0u);
    EXPECT_TRUE(again->empty());
    EXPECT_GE(again->capacity(), 3000u);
    EXPECT_EQ(again->data(), buffer);  // the same buffer, not a new allocation
  });
}

TEST(RecycledText, LargeStringsAreFreedNotKept) {
  on_fresh_thread([] {
    auto text = recycled_text::take();
    text->assign(64 * 1024, 'x');
    recycled_text::share(std::move(text)).reset();
    EXPECT_EQ(recycled_text::pooled(), 0u);
  });
}

/// Takes `count` strings of `size` bytes, holds them all, then lets them all go.
void hold_then_release(int count, std::size_t size) {
  std::vector<std::shared_ptr<const std::string>> held;
  for (int i = 0; i < count; ++i) {
    auto text = recycled_text::take();
    text->assign(size, 'y');
    held.push_back(recycled_text::share(std::move(text)));
  }
}

TEST(RecycledText, ThePoolKeepsAThousandRelaysInFlight) {
  // 500 busy pairs keep about a thousand relays in flight on one thread: all come back.
  on_fresh_thread([] {
    hold_then_release(1000, 350);
    EXPECT_EQ(recycled_text::pooled(), 1000u);
  });
}

TEST(RecycledText, ThePoolIsBoundedInCount) {
  on_fresh_thread([] {
    hold_then_release(3000, 100);
    EXPECT_EQ(recycled_text::pooled(), 1024u);
    // Every pooled string is counted at its capacity.
    EXPECT_GE(recycled_text::pooled_bytes(), 1024u * 100);
  });
}

TEST(RecycledText, ThePoolIsBoundedInBytes) {
  on_fresh_thread([] {
    hold_then_release(1000, 15000);  // 15 MB held at once
    EXPECT_GT(recycled_text::pooled(), 200u);
    EXPECT_LT(recycled_text::pooled(), 300u);  // 4 MiB of 15 KB strings: 279 at most
    EXPECT_LE(recycled_text::pooled_bytes(), 4u * 1024 * 1024);
    // Taking one gives its bytes back to the budget.
    auto before = recycled_text::pooled_bytes();
    auto text = recycled_text::take();
    EXPECT_EQ(recycled_text::pooled_bytes(), before - text->capacity());
  });
}

TEST(RecycledText, AStringReleasedOnAnotherThreadJoinsThatThreadsPool) {
  std::shared_ptr<const std::string> shared;
  on_fresh_thread([&] {
    auto text = recycled_text::take();
    text->assign("relayed");
    shared = recycled_text::share(std::move(text));
  });
  on_fresh_thread([&] {
    shared.reset();
    EXPECT_EQ(recycled_text::pooled(), 1u);
  });
}

TEST(RecycledText, AStringOutlivingItsThreadsPoolIsFreed) {
  on_fresh_thread([] {
    struct ReleasedLate {
      std::shared_ptr<const std::string> text;
    };
    static thread_local ReleasedLate late;
    // `late` was made first, so it is destroyed last, after the pool: its string must then
    // be freed, not pooled (ASan would see the destroyed pool used, or the string leak).
    auto text = recycled_text::take();
    text->assign("late");
    late.text = recycled_text::share(std::move(text));
  });
  SUCCEED();
}

}  // namespace
}  // namespace switchboard
