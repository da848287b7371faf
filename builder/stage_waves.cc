#include "builder/stage_waves.h"

#include <algorithm>
#include <exception>
#include <thread>

namespace kiln::builder {

void RunStageWaves(const std::vector<std::vector<int>>& waves, size_t jobs,
                   const std::function<void(int)>& build_stage) {
  jobs = std::max<size_t>(1, jobs);
  for (const auto& wave : waves) {
    for (size_t start = 0; start < wave.size(); start += jobs) {
      const size_t end = std::min(wave.size(), start + jobs);
      if (end - start == 1) {
        build_stage(wave[start]);
        continue;
      }
      std::vector<std::exception_ptr> errors(end - start);
      std::vector<std::thread> threads;
      for (size_t i = start; i < end; ++i) {
        threads.emplace_back([&, i] {
          try {
            build_stage(wave[i]);
          } catch (...) {
            errors[i - start] = std::current_exception();
          }
        });
      }
      for (auto& t : threads) t.join();
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    }
  }
}

}  // namespace kiln::builder
