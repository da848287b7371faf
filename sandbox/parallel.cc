#include "sandbox/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::sandbox {

void ParallelFor(size_t n, const std::function<void(size_t)>& fn, size_t min_items, size_t threads) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto worker = [&] {
    for (size_t i; (i = next++) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
        next = n;  // stop handing out items
      }
    }
  };
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  const size_t used = n < min_items ? 1 : std::min(n, threads);
  {
    std::vector<std::jthread> pool;
    for (size_t t = 1; t < used; ++t) pool.emplace_back(worker);
    worker();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace kiln::sandbox
