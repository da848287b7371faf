// Asking one shared object from several threads at once (the memos `kiln
// lint`'s workers share).
#pragma once

#include <string>
#include <thread>
#include <vector>

namespace kiln::frontend {

// Each of `threads` threads calls ask(i) for every i < n, half of them from
// the last i down, all at once; returns each thread's answers by i.
template <typename Ask>
std::vector<std::vector<std::string>> AskFromThreads(size_t threads, size_t n, Ask ask) {
  std::vector<std::vector<std::string>> got(threads, std::vector<std::string>(n));
  {
    std::vector<std::jthread> pool;
    for (size_t t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (size_t k = 0; k < n; ++k) {
          const size_t i = t % 2 ? n - 1 - k : k;
          got[t][i] = ask(i);
        }
      });
  }
  return got;
}

}  // namespace kiln::frontend
