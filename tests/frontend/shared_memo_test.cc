#include "frontend/shared_memo.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tests/frontend/threads_util.h"

namespace kiln::frontend {
namespace {

TEST(SharedMemo, MakesOncePerKeyAndKeepsTheReference) {
  SharedMemo<std::string, std::string> memo;
  int made = 0;
  const std::string& a = memo.Get("a", [&] { ++made; return std::string("A"); });
  EXPECT_EQ(memo.Get("a", [&] { ++made; return std::string("other"); }), "A");
  EXPECT_EQ(memo.Get("b", [&] { ++made; return std::string("B"); }), "B");
  EXPECT_EQ(made, 2);
  EXPECT_EQ(&a, &memo.Get("a", [] { return std::string(); }));
}

TEST(SharedMemo, AThrowingMakeStoresNothing) {
  SharedMemo<std::string, std::string> memo;
  EXPECT_THROW(memo.Get("k", []() -> std::string { throw std::runtime_error("no"); }), std::runtime_error);
  EXPECT_EQ(memo.Get("k", [] { return std::string("made"); }), "made");
}

TEST(SharedMemo, ThreadsSeeOneValuePerKey) {
  SharedMemo<size_t, std::string> memo;
  const auto got = AskFromThreads(8, 2000, [&](size_t i) { return memo.Get(i % 500, [&] { return std::to_string(i % 500); }); });
  for (const auto& answers : got)
    for (size_t i = 0; i < answers.size(); ++i) EXPECT_EQ(answers[i], std::to_string(i % 500));
}

}  // namespace
}  // namespace kiln::frontend
