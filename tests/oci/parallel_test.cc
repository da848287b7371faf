#include "oci/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln::oci {
namespace {

TEST(ParallelFor, VisitsEveryItemOnce) {
  std::vector<std::atomic<int>> seen(1000);
  ParallelFor(seen.size(), [&](size_t i) { ++seen[i]; });
  for (const auto& s : seen) EXPECT_EQ(s.load(), 1);
  ParallelFor(0, [](size_t) { FAIL() << "no items"; });
}

TEST(ParallelFor, FewItemsStayOnTheCallersThread) {
  const auto me = std::this_thread::get_id();
  ParallelFor(5, [&](size_t) { EXPECT_EQ(std::this_thread::get_id(), me); }, 32);
}

TEST(ParallelFor, TheFirstErrorIsRethrownAndStopsNewItems) {
  std::atomic<int> ran{0};
  EXPECT_THROW(ParallelFor(100000, [&](size_t i) {
    ++ran;
    if (i == 3) throw std::runtime_error("item 3");
  }), std::runtime_error);
  EXPECT_LT(ran.load(), 100000) << "items after the error were not all started";
}

}  // namespace
}  // namespace kiln::oci
