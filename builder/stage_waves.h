// Running the stage graph's waves (frontend/stage_graph.h): waves in order,
// the stages of one wave side by side, at most `jobs` threads at a time.
// A wave starts only when every stage of the one before has finished, so a
// stage never starts before the stages it depends on.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace kiln::builder {

// Calls `build_stage(i)` for every stage of `waves`. A batch of one runs on
// the calling thread. When stages of a batch throw, the whole batch is
// joined first and the error of the earliest of them (in wave order) is
// rethrown; later batches and waves do not start.
void RunStageWaves(const std::vector<std::vector<int>>& waves, size_t jobs,
                   const std::function<void(int)>& build_stage);

}  // namespace kiln::builder
