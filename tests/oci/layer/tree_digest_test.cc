// TreeDigest and Store::Fsck(full): an unpacked layer is checked against the
// digest recorded when it was adopted.
#include "oci/layer/tree_digest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "oci/error.h"
#include "oci/store/store.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using namespace ocitest;

void MakeDigestTree(const fs::path& t) {
  WriteText(t / "bin" / "sh", "#!genuine");
  WriteText(t / "etc" / "motd", "hello");
  fs::create_symlink("sh", t / "bin" / "ash");
  fs::create_directories(t / "empty");
}

TEST(TreeDigest, SeesContentModeLinksAndNames) {
  ScratchDir dir;
  MakeDigestTree(dir / "a");
  MakeDigestTree(dir / "b");
  const Digest base = TreeDigest(dir / "a");
  EXPECT_EQ(TreeDigest(dir / "b"), base);
  // Times are not part of it.
  const struct timespec then[2] = {{12345, 0}, {12345, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "b" / "etc" / "motd").c_str(), then, 0), 0);
  EXPECT_EQ(TreeDigest(dir / "b"), base);
  WriteText(dir / "b" / "etc" / "motd", "hellO");
  EXPECT_NE(TreeDigest(dir / "b"), base);
  WriteText(dir / "b" / "etc" / "motd", "hello");
  EXPECT_EQ(TreeDigest(dir / "b"), base);
  ::chmod((dir / "b" / "etc" / "motd").c_str(), 0600);
  EXPECT_NE(TreeDigest(dir / "b"), base);
  ::chmod((dir / "b" / "etc" / "motd").c_str(), 0644);
  fs::remove(dir / "b" / "bin" / "ash");
  fs::create_symlink("/tmp/elsewhere", dir / "b" / "bin" / "ash");
  EXPECT_NE(TreeDigest(dir / "b"), base);
  fs::remove(dir / "b" / "bin" / "ash");
  fs::create_symlink("sh", dir / "b" / "bin" / "ash");
  EXPECT_EQ(TreeDigest(dir / "b"), base);
  WriteText(dir / "b" / "empty" / "new", "");
  EXPECT_NE(TreeDigest(dir / "b"), base);
  fs::remove(dir / "b" / "empty" / "new");
  if (::setxattr((dir / "b" / "empty").c_str(), "user.overlay.opaque", "y", 1, 0) == 0) {
    EXPECT_NE(TreeDigest(dir / "b"), base);
  }
}

TEST(StoreFsck, FullFindsATamperedLayerDirAndRemoveDropsIt) {
  ScratchDir dir;
  Store s(dir / "store");
  auto tmp = s.MakeTempDir("t");
  MakeDigestTree(tmp.path());
  const Digest id = Sha256Of("some diff");
  s.AdoptLayerDir(tmp.release(), id);
  ASSERT_TRUE(s.LayerTreeDigest(id));
  EXPECT_EQ(*s.LayerTreeDigest(id), TreeDigest(s.LayerDir(id)));

  auto r = s.Fsck(false, {}, /*full=*/true);
  EXPECT_TRUE(r.corrupt_layers.empty());
  EXPECT_EQ(r.unrecorded_layers, 0);
  // Without --full nothing is read.
  WriteText(s.LayerDir(id) / "bin" / "sh", "#!poisoned");
  EXPECT_TRUE(s.Fsck(false, {}, false).corrupt_layers.empty());
  r = s.Fsck(false, {}, true);
  ASSERT_EQ(r.corrupt_layers.size(), 1u);
  EXPECT_EQ(r.corrupt_layers[0], id);

  s.Fsck(true, {}, true);
  EXPECT_FALSE(s.HasLayerDir(id));
  EXPECT_FALSE(fs::exists(s.LayerDir(id)));
  EXPECT_TRUE(s.Fsck(false, {}, true).corrupt_layers.empty());
}

TEST(StoreFsck, LayerDirsFromBeforeRecordingAreCountedNotFailed) {
  ScratchDir dir;
  Store s(dir / "store");
  const Digest id = Sha256Of("old");
  fs::create_directories(s.LayerDir(id));
  WriteText(s.root() / "layers" / (id.hex + ".done"), id.str() + "\n");
  EXPECT_FALSE(s.LayerTreeDigest(id));
  const auto r = s.Fsck(false, {}, true);
  EXPECT_TRUE(r.corrupt_layers.empty());
  EXPECT_EQ(r.unrecorded_layers, 1);
}

TEST(StoreDiffIds, RecordedPerBlobAndPrunedWithIt) {
  ScratchDir dir;
  Store s(dir / "store");
  const Descriptor blob = s.PutBlob("layer bytes", media::kOciLayerGzip);
  EXPECT_FALSE(s.RecordedDiffId(blob.digest));
  s.RecordDiffId(blob.digest, Sha256Of("tar"));
  EXPECT_EQ(s.RecordedDiffId(blob.digest), Sha256Of("tar"));
  s.Prune({});  // nothing reaches the blob
  EXPECT_FALSE(s.HasBlob(blob.digest));
  EXPECT_FALSE(s.RecordedDiffId(blob.digest));
}

}  // namespace
}  // namespace kiln::oci
