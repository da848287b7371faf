#include "oci/layer/layer_compress.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>

#include "oci/digest.h"
#include "oci/store/store.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

using ocitest::ScratchDir;

// 24 MiB of half text, half random bytes: several of zstd's jobs at level 3.
std::vector<std::string> Stream() {
  std::mt19937_64 rng(27);
  std::vector<std::string> chunks;
  for (int c = 0; c < 24; ++c) {
    std::string s(1 << 20, '\0');
    for (size_t i = 0; i < s.size(); ++i)
      s[i] = c % 2 ? static_cast<char>(rng()) : "kiln layer overlay digest "[i % 26];
    chunks.push_back(std::move(s));
  }
  return chunks;
}

std::string ZstdBlob(const Store& store, unsigned threads, const std::vector<std::string>& chunks) {
  ChunkQueue queue;
  Store::BlobWriter blob = store.NewBlob();
  std::thread producer([&] {
    for (const auto& c : chunks) queue.Push(Chunk{c, {}});
    queue.Close();
  });
  CompressZstd(queue, blob, threads);
  producer.join();
  const Descriptor d = blob.Commit(media::kOciLayerZstd);
  return ocitest::ReadText(store.BlobPath(d.digest));
}

// zstd's workers compress in parallel (the speed of `zstd -T0`), and the blob
// must not depend on how many cores the building machine has.
TEST(LayerCompress, ZstdBytesAreTheSameForAnyWorkerCount) {
  ScratchDir dir;
  Store s(dir / "store");
  const auto chunks = Stream();
  const std::string one = ZstdBlob(s, 1, chunks);
  EXPECT_EQ(one.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
  EXPECT_LT(one.size(), 24u << 20);
  EXPECT_EQ(Sha256Of(ZstdBlob(s, 2, chunks)), Sha256Of(one));
  EXPECT_EQ(Sha256Of(ZstdBlob(s, 4, chunks)), Sha256Of(one));
  EXPECT_EQ(Sha256Of(ZstdBlob(s, 0, chunks)), Sha256Of(one)) << "0 means one worker, not single-threaded mode";
}

}  // namespace
}  // namespace kiln::oci
