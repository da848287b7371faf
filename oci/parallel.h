// A parallel loop for the few places where kiln's work splits into
// independent items (files to hash or copy, layers to scan): items are taken
// in turn by one thread per core, the caller's thread among them.
#pragma once

#include <cstddef>
#include <functional>

namespace kiln::oci {

// Calls fn(i) for every i in [0, n), on up to min(n, cores, 8) threads; with
// fewer than `min_items` items, on the caller's thread alone. After the
// first exception no new item starts; it is rethrown once all threads stop.
void ParallelFor(size_t n, const std::function<void(size_t)>& fn, size_t min_items = 2);

}  // namespace kiln::oci
