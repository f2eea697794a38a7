#include "switchboard/signaling/kept_messages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {
namespace {

using Kept = std::vector<std::pair<std::uint64_t, std::string>>;

Kept kept_after(const KeptMessages& keep, std::uint64_t after) {
  Kept out;
  keep.for_each_after(after, [&](std::uint64_t seq, std::string_view text) {
    out.emplace_back(seq, std::string(text));
  });
  return out;
}

std::string text_of(std::uint64_t seq, std::size_t size) {
  std::string s(size, 'a');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (seq * 7 + i) % 26);
  return s;
}

TEST(KeptMessages, KeepsTheLatestWithinTheMessageLimit) {
  KeptMessages keep({3, 1 << 20});
  for (std::uint64_t seq = 1; seq <= 5; ++seq) keep.push(seq, "m" + std::to_string(seq));
  EXPECT_EQ(keep.size(), 3u);
  EXPECT_EQ(keep.first_seq(), 3u);
  EXPECT_EQ(kept_after(keep, 0), (Kept{{3, "m3"}, {4, "m4"}, {5, "m5"}}));
  EXPECT_EQ(kept_after(keep, 4), (Kept{{5, "m5"}}));
  EXPECT_EQ(keep.bytes(), 6u);
}

TEST(KeptMessages, KeepsTheLatestWithinTheByteLimit) {
  KeptMessages keep({100, 10});
  keep.push(1, "aaaa");
  keep.push(2, "bbbb");
  keep.push(3, "cccc");  // 12 bytes would be over 10: the first makes way
  EXPECT_EQ(kept_after(keep, 0), (Kept{{2, "bbbb"}, {3, "cccc"}}));
  keep.push(4, "dddddddddd");  // exactly the limit: everything older goes
  EXPECT_EQ(kept_after(keep, 0), (Kept{{4, "dddddddddd"}}));
}

TEST(KeptMessages, AMessageOverTheByteLimitLeavesNothingKept) {
  KeptMessages keep({100, 10});
  keep.push(1, "aaaa");
  keep.push(2, "bbbbbbbbbbb");
  EXPECT_TRUE(keep.empty());
  EXPECT_EQ(keep.capacity(), 0u);
  keep.push(3, "c");  // and it keeps again from there
  EXPECT_EQ(kept_after(keep, 0), (Kept{{3, "c"}}));
}

TEST(KeptMessages, WithNoMessageLimitNothingIsKept) {
  KeptMessages keep({0, 0});
  keep.push(1, "a");
  EXPECT_TRUE(keep.empty());
  EXPECT_EQ(keep.capacity(), 0u);
}

TEST(KeptMessages, ClearLetsGoOfTheRing) {
  KeptMessages keep({8, 1 << 20});
  keep.push(1, std::string(5000, 'x'));
  EXPECT_GE(keep.capacity(), 5000u);
  keep.clear();
  EXPECT_TRUE(keep.empty());
  EXPECT_EQ(keep.capacity(), 0u);
  EXPECT_EQ(keep.bytes(), 0u);
}

TEST(KeptMessages, AFullWindowOfEqualMessagesStopsGrowingTheRing) {
  KeptMessages keep({16, 1 << 20});
  for (std::uint64_t seq = 1; seq <= 64; ++seq) keep.push(seq, text_of(seq, 1000));
  std::size_t settled = keep.capacity();
  for (std::uint64_t seq = 65; seq <= 10000; ++seq) keep.push(seq, text_of(seq, 1000));
  EXPECT_EQ(keep.capacity(), settled);  // the steady state reuses the ring, never regrows
  EXPECT_LE(settled, 2 * 16 * 1000u + 4096);
}

// Against a plain model: whatever the sizes and limits, the keep holds exactly the newest
// messages the limits allow, byte for byte, in order, and its ring never passes twice the
// byte limit (its memory bound).
TEST(KeptMessages, MatchesAModelUnderRandomSizes) {
  std::mt19937_64 rng(20261204);
  for (int round = 0; round < 40; ++round) {
    KeepLimits limits{1 + rng() % 64, 64 + rng() % 20000};
    KeptMessages keep(limits);
    std::deque<std::pair<std::uint64_t, std::string>> model;
    std::size_t model_bytes = 0;
    for (std::uint64_t seq = 1; seq <= 3000; ++seq) {
      std::size_t size = rng() % 8 == 0 ? rng() % (limits.bytes + 50) : rng() % 600;
      std::string text = text_of(seq, size);
      keep.push(seq, text);
      if (size > limits.bytes) {
        model.clear();
        model_bytes = 0;
      } else {
        while (!model.empty() &&
               (model.size() >= limits.messages || model_bytes + size > limits.bytes)) {
          model_bytes -= model.front().second.size();
          model.pop_front();
        }
        model.emplace_back(seq, text);
        model_bytes += size;
      }
      ASSERT_EQ(keep.size(), model.size()) << "round " << round << " seq " << seq;
      ASSERT_EQ(keep.bytes(), model_bytes);
      ASSERT_LE(keep.capacity(), 2 * limits.bytes);
      if (seq % 97 == 0 || seq == 3000) {
        ASSERT_EQ(kept_after(keep, 0), Kept(model.begin(), model.end()))
            << "round " << round << " seq " << seq;
      }
    }
  }
}

}  // namespace
}  // namespace switchboard
