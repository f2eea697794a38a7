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

TEST(RecycledText, ThePoolIsBounded) {
  on_fresh_thread([] {
    std::vector<std::shared_ptr<const std::string>> held;
    for (int i = 0; i < 200; ++i) {
      auto text = recycled_text::take();
      text->assign(100, 'y');
      held.push_back(recycled_text::share(std::move(text)));
    }
    held.clear();
    EXPECT_GT(recycled_text::pooled(), 0u);
    EXPECT_LE(recycled_text::pooled(), 64u);
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
