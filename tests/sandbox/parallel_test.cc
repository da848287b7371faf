#include "sandbox/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln::sandbox {
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

TEST(ParallelFor, ThreadsAreBoundedByTheCaller) {
  std::mutex mu;
  std::set<std::thread::id> ids;
  ParallelFor(200, [&](size_t) {
    std::lock_guard lock(mu);
    ids.insert(std::this_thread::get_id());
  }, 2, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(*ids.begin(), std::this_thread::get_id());
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
}  // namespace kiln::sandbox
