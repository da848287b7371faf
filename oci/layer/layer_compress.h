// The compressing half of WriteLayer: the tar stream arrives as chunks on a
// bounded queue, and gzip members (on several threads, in order, reusing an
// earlier blob's unchanged members) or one zstd stream go into the blob.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oci/digest.h"
#include "oci/error.h"
#include "oci/layer/gzip_members.h"
#include "oci/store/store.h"

namespace kiln::oci {

inline constexpr size_t kMaxQueued = 8;

// A piece of the tar stream, and where file contents lie in it (gzip only:
// [begin, end) offsets, in order; headers and padding lie between).
struct Chunk {
  std::string bytes;
  std::vector<std::pair<uint32_t, uint32_t>> file_data;
};

// Bounded single-producer/single-consumer queue of byte chunks.
class ChunkQueue {
 public:
  explicit ChunkQueue(size_t max_queued = kMaxQueued) : max_(max_queued) {}
  void Push(Chunk chunk) {
    std::unique_lock l(mu_);
    not_full_.wait(l, [&] { return q_.size() < max_ || aborted_; });
    if (aborted_) throw Error("write layer: compressor failed");
    q_.push_back(std::move(chunk));
    not_empty_.notify_one();
  }
  // False at end of stream. `index` counts the chunks popped so far.
  bool Pop(Chunk& out, size_t* index = nullptr) {
    std::unique_lock l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    if (index) *index = popped_;
    ++popped_;
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard l(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  void Abort() {
    std::lock_guard l(mu_);
    aborted_ = true;
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Chunk> q_;
  const size_t max_;
  size_t popped_ = 0;
  bool closed_ = false, aborted_ = false;
};

// Compresses the queue's chunks as gzip members on `threads` threads (or
// copies them from the blob `reuse_members_of`, when its member map is
// known) and writes them to the blob in order. Returns the member map when
// the queue is closed and drained; throws the first error.
std::vector<GzipMember> CompressGzipMembers(ChunkQueue& queue, Store::BlobWriter& blob, unsigned threads,
                                            const Store& store, const std::optional<Digest>& reuse_members_of);

// The queue's chunks through one zstd stream, compressed by zstd's own
// `threads` workers (the output is the same for any count >= 1).
void CompressZstd(ChunkQueue& queue, Store::BlobWriter& blob, unsigned threads);

}  // namespace kiln::oci
