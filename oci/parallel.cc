#include "oci/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::oci {

void ParallelFor(size_t n, const std::function<void(size_t)>& fn, size_t min_items) {
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
  const size_t threads =
      n < min_items ? 1 : std::min<size_t>(n, std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  {
    std::vector<std::jthread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace kiln::oci
