// The one bounded parallel loop, for the places where kiln's work splits into
// independent items (files to hash or copy, layers to scan, blobs to push):
// items are taken in turn by the threads, the caller's thread among them.
#pragma once

#include <cstddef>
#include <functional>

namespace kiln::sandbox {

// Calls fn(i) for every i in [0, n), on up to min(n, threads) threads, where
// `threads` 0 means one per core (1 to 8); with fewer than `min_items` items,
// on the caller's thread alone. After the first exception no new item
// starts; it is rethrown once all threads stop.
void ParallelFor(size_t n, const std::function<void(size_t)>& fn, size_t min_items = 2, size_t threads = 0);

}  // namespace kiln::sandbox
