// Stage scheduling: the waves of the stage graph of a real Dockerfile run in
// dependency order, independent stages side by side, never more than `jobs`.
#include "builder/stage_waves.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "frontend/instructions.h"
#include "frontend/stage_graph.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::stage_waves_test {
namespace {

// Records each stage's start and end on one clock, and how many stages ran
// at once.
class Recorder {
 public:
  explicit Recorder(std::chrono::milliseconds hold = std::chrono::milliseconds(20)) : hold_(hold) {}
  void operator()(int stage) {
    {
      std::lock_guard lock(mu_);
      start_[stage] = ++clock_;
      max_running_ = std::max(max_running_, ++running_);
    }
    // Long enough that stages started side by side overlap.
    std::this_thread::sleep_for(hold_);
    std::lock_guard lock(mu_);
    end_[stage] = ++clock_;
    --running_;
    threads_.insert(std::this_thread::get_id());
  }
  bool Before(int a, int b) const { return end_.at(a) < start_.at(b); }
  bool Overlap(int a, int b) const { return start_.at(a) < end_.at(b) && start_.at(b) < end_.at(a); }
  std::map<int, int> start_, end_;
  int max_running_ = 0;
  std::set<std::thread::id> threads_;

 private:
  std::chrono::milliseconds hold_;
  std::mutex mu_;
  int clock_ = 0, running_ = 0;
};

const char* kDiamond =
    "FROM scratch AS a\n"
    "FROM scratch AS b\n"
    "FROM scratch AS c\n"
    "FROM a AS d\n"
    "COPY --from=b /x /x\n"
    "FROM d\n"
    "COPY --from=c /y /y\n";

TEST(StageWaves, DependenciesFirstIndependentStagesSideBySide) {
  const frontend::StageGraph g =
      frontend::BuildStageGraph(frontend::ParseDockerfile(kDiamond), frontend::BuildArgs{});
  ASSERT_EQ(g.waves, (std::vector<std::vector<int>>{{0, 1, 2}, {3}, {4}}));
  Recorder r;
  RunStageWaves(g.waves, 3, std::ref(r));
  ASSERT_EQ(r.start_.size(), 5u);
  for (const auto& node : g.nodes)
    for (int dep : node.depends_on) EXPECT_TRUE(r.Before(dep, node.index)) << dep << " before " << node.index;
  EXPECT_TRUE(r.Overlap(0, 1));
  EXPECT_TRUE(r.Overlap(1, 2));
  EXPECT_EQ(r.max_running_, 3);
}

TEST(StageWaves, NeverMoreThanJobsAtOnce) {
  Recorder r;
  RunStageWaves({{0, 1, 2, 3, 4}}, 2, std::ref(r));
  EXPECT_EQ(r.start_.size(), 5u);
  EXPECT_EQ(r.max_running_, 2);
  // Batches of two: 0,1 then 2,3 then 4 alone.
  EXPECT_TRUE(r.Overlap(0, 1));
  EXPECT_TRUE(r.Before(1, 2));
  EXPECT_TRUE(r.Before(3, 4));
}

TEST(StageWaves, OneJobRunsEverythingInOrderOnTheCallingThread) {
  Recorder r(std::chrono::milliseconds(0));
  RunStageWaves({{0, 1}, {2}}, 1, std::ref(r));
  EXPECT_TRUE(r.Before(0, 1));
  EXPECT_TRUE(r.Before(1, 2));
  EXPECT_EQ(r.threads_, std::set<std::thread::id>{std::this_thread::get_id()});
  Recorder zero(std::chrono::milliseconds(0));
  RunStageWaves({{0, 1}}, 0, std::ref(zero));  // 0 means 1, not "no stage runs"
  EXPECT_EQ(zero.start_.size(), 2u);
}

TEST(StageWaves, FailureJoinsTheBatchAndStopsLaterWaves) {
  std::atomic<int> finished{0};
  std::vector<int> started_later;
  std::mutex mu;
  auto stage = [&](int i) {
    if (i >= 10) {
      std::lock_guard lock(mu);
      started_later.push_back(i);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 2 ? 30 : 5));
    if (i == 1) throw std::runtime_error("stage 1 failed");
    if (i == 2) throw std::runtime_error("stage 2 failed");
    ++finished;
  };
  try {
    RunStageWaves({{0, 1, 2}, {10}}, 3, stage);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "stage 1 failed") << "the earliest failing stage of the batch";
  }
  EXPECT_EQ(finished.load(), 1) << "stage 0 ran to its end";
  EXPECT_TRUE(started_later.empty());
}

}  // namespace
}  // namespace kiln::builder::stage_waves_test
