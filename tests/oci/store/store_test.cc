#include "oci/store/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "oci/error.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using ocitest::ScratchDir;

Descriptor PutImage(Store& s, const std::string& seed) {
  auto layer = s.PutBlob("layer-" + seed, media::kOciLayerGzip);
  ImageConfig c;
  c.diff_ids = {Sha256Of("diff-" + seed)};
  auto cfg = s.PutBlob(ToJson(c), media::kOciConfig);
  Manifest m;
  m.config = cfg;
  m.layers = {layer};
  return s.PutBlob(ToJson(m), media::kOciManifest);
}

TEST(Store, CreatesOciLayout) {
  ScratchDir dir;
  Store s(dir / "root");
  EXPECT_TRUE(fs::exists(dir / "root" / "oci-layout"));
  EXPECT_EQ(ParseIndex(ocitest::ReadText(dir / "root" / "index.json")).manifests.size(), 0u);
  EXPECT_TRUE(fs::is_directory(dir / "root" / "blobs" / "sha256"));
}

TEST(Store, BlobRoundTripAndVerify) {
  ScratchDir dir;
  Store s(dir.path());
  auto d = s.PutBlob("hello", "text/plain");
  EXPECT_EQ(d.digest, Sha256Of("hello"));
  EXPECT_EQ(d.size, 5);
  EXPECT_TRUE(s.HasBlob(d.digest));
  EXPECT_EQ(s.ReadBlob(d.digest, true), "hello");
  // Corrupt it on disk: verify catches it.
  ocitest::WriteText(s.BlobPath(d.digest), "hellO");
  EXPECT_EQ(s.ReadBlob(d.digest, false), "hellO");
  EXPECT_THROW(s.ReadBlob(d.digest, true), Error);
  EXPECT_THROW(s.ReadBlob(Sha256Of("absent")), Error);
}

TEST(Store, WriterIsAtomicAndChecksExpected) {
  ScratchDir dir;
  Store s(dir.path());
  {
    auto w = s.NewBlob();
    w.Write("abc", 3);
    EXPECT_EQ(w.size(), 3);
    EXPECT_FALSE(s.HasBlob(Sha256Of("abc")));  // not visible before Commit
  }
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));  // uncommitted temp removed
  auto w = s.NewBlob();
  w.Write("abc", 3);
  EXPECT_THROW(w.Commit("x", Sha256Of("abd")), Error);
  EXPECT_FALSE(s.HasBlob(Sha256Of("abc")));
  auto w2 = s.NewBlob();
  w2.Write("abc", 3);
  EXPECT_EQ(w2.Commit("x", Sha256Of("abc")).digest, Sha256Of("abc"));
}

TEST(Store, ImportBlobStreams) {
  ScratchDir dir;
  Store s(dir / "root");
  std::string big(5 << 20, 'z');
  ocitest::WriteText(dir / "big", big);
  auto d = s.ImportBlob(dir / "big", "application/octet-stream");
  EXPECT_EQ(d.digest, Sha256Of(big));
  EXPECT_EQ(d.size, static_cast<int64_t>(big.size()));
}

TEST(Store, Tags) {
  ScratchDir dir;
  Store s(dir.path());
  auto m1 = PutImage(s, "1");
  auto m2 = PutImage(s, "2");
  s.SetTag("b:latest", m1);
  s.SetTag("a:1", m2);
  s.SetTag("b:latest", m2);  // retag replaces
  EXPECT_EQ(s.ResolveTag("b:latest")->digest, m2.digest);
  EXPECT_FALSE(s.ResolveTag("nope").has_value());
  auto tags = s.ListTags();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].first, "a:1");
  // index.json is a valid OCI index with ref.name annotations.
  Index idx = ParseIndex(ocitest::ReadText(dir / "index.json"));
  ASSERT_EQ(idx.manifests.size(), 2u);
  EXPECT_EQ(idx.manifests[0].annotations.at("org.opencontainers.image.ref.name"), "a:1");
  EXPECT_TRUE(s.RemoveTag("a:1"));
  EXPECT_FALSE(s.RemoveTag("a:1"));
  EXPECT_EQ(s.ListTags().size(), 1u);
}

TEST(Store, ConcurrentTaggersThreadsAndProcesses) {
  ScratchDir dir;
  Store s(dir.path());
  auto m = PutImage(s, "x");
  constexpr int kThreads = 4, kProcs = 3, kEach = 15;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        Store child(dir.path());
        for (int i = 0; i < kEach; ++i) {
          child.SetTag("proc" + std::to_string(p) + ":" + std::to_string(i), child.PutBlob("p" + std::to_string(p * 100 + i), "x"));
        }
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store st(dir.path());
      for (int i = 0; i < kEach; ++i) st.SetTag("thread" + std::to_string(t) + ":" + std::to_string(i), m);
    });
  }
  for (auto& t : threads) t.join();
  for (pid_t k : kids) {
    int status = 0;
    waitpid(k, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(s.ListTags().size(), static_cast<size_t>((kThreads + kProcs) * kEach));
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
}

TEST(Store, FsckFindsCorruptAndOrphaned) {
  ScratchDir dir;
  Store s(dir.path());
  auto m = PutImage(s, "1");
  s.SetTag("img", m);
  auto orphan = s.PutBlob("orphan", "x");
  auto bad = s.PutBlob("soon corrupt", "x");
  ocitest::WriteText(s.BlobPath(bad.digest), "corrupted!");
  auto r = s.Fsck(false);
  ASSERT_EQ(r.corrupt.size(), 1u);
  EXPECT_EQ(r.corrupt[0], bad.digest);
  ASSERT_EQ(r.orphaned.size(), 1u);
  EXPECT_EQ(r.orphaned[0], orphan.digest);
  // Extra roots keep blobs alive.
  EXPECT_TRUE(s.Fsck(false, {orphan.digest}).orphaned.empty());
  s.Fsck(true);
  EXPECT_FALSE(s.HasBlob(bad.digest));
  EXPECT_FALSE(s.HasBlob(orphan.digest));
  EXPECT_TRUE(s.HasBlob(m.digest));
  auto r2 = s.Fsck(false);
  EXPECT_TRUE(r2.corrupt.empty() && r2.orphaned.empty());
}

TEST(Store, PruneKeepsReachableAndRemovesRest) {
  ScratchDir dir;
  Store s(dir.path());
  auto kept = PutImage(s, "kept");
  auto dropped = PutImage(s, "dropped");
  auto cache = s.PutBlob("cache entry", "x");
  s.SetTag("kept", kept);
  // Layer dirs: one reachable via the kept config's diff_id, one not.
  auto live_diff = Sha256Of("diff-kept");
  auto dead_diff = Sha256Of("diff-dropped");
  for (auto d : {live_diff, dead_diff}) {
    auto tmp = s.MakeTempDir("layer");
    ocitest::WriteText(tmp.path() / "f", "x");
    fs::create_directories(tmp.path() / "ro");
    ::chmod((tmp.path() / "ro").c_str(), 0555);
    s.AdoptLayerDir(tmp.release(), d);
  }
  EXPECT_TRUE(s.HasLayerDir(live_diff));
  auto r = s.Prune({cache.digest});
  EXPECT_EQ(r.blobs_removed, 3);  // dropped manifest, its config, its layer
  EXPECT_EQ(r.layer_dirs_removed, 1);
  EXPECT_GT(r.bytes_freed, 0);
  EXPECT_TRUE(s.HasBlob(kept.digest));
  EXPECT_TRUE(s.HasBlob(cache.digest));
  EXPECT_FALSE(s.HasBlob(dropped.digest));
  EXPECT_TRUE(s.HasLayerDir(live_diff));
  EXPECT_FALSE(s.HasLayerDir(dead_diff));
  EXPECT_FALSE(fs::exists(s.LayerDir(dead_diff)));
  auto reach = s.Reachable(kept);
  EXPECT_NE(std::find(reach.begin(), reach.end(), live_diff), reach.end());
}

TEST(Store, AdoptLayerDirLoserIsRemoved) {
  ScratchDir dir;
  Store s(dir.path());
  auto id = Sha256Of("layer");
  auto a = s.MakeTempDir("a");
  ocitest::WriteText(a.path() / "winner", "1");
  auto b = s.MakeTempDir("b");
  ocitest::WriteText(b.path() / "loser", "1");
  auto bp = b.path();
  s.AdoptLayerDir(a.release(), id);
  s.AdoptLayerDir(b.release(), id);
  EXPECT_TRUE(fs::exists(s.LayerDir(id) / "winner"));
  EXPECT_FALSE(fs::exists(bp));
}

TEST(Store, SweepStaleTempRemovesDeadOwners) {
  ScratchDir dir;
  Store s(dir.path());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Store child(dir.path());
    auto t = child.MakeTempDir("build");
    ocitest::WriteText(t.path() / "junk", "x");
    t.release();  // as if the process crashed
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto mine = s.MakeTempDir("mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "tmp"), fs::directory_iterator()), 2);
  s.SweepStaleTemp();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "tmp"), fs::directory_iterator()), 1);
  EXPECT_TRUE(fs::exists(mine.path()));
}

TEST(Store, DefaultRootHonoursEnv) {
  const char* old = getenv("KILN_ROOT");
  std::string saved = old ? old : "";
  setenv("KILN_ROOT", "/x/kiln", 1);
  EXPECT_EQ(Store::DefaultRoot(), fs::path("/x/kiln"));
  unsetenv("KILN_ROOT");
  setenv("XDG_DATA_HOME", "/xdg", 1);
  EXPECT_EQ(Store::DefaultRoot(), fs::path("/xdg/kiln"));
  unsetenv("XDG_DATA_HOME");
  if (old) setenv("KILN_ROOT", saved.c_str(), 1);
}

TEST(Store, LockExcludes) {
  ScratchDir dir;
  Store s(dir.path());
  std::atomic<bool> got{false};
  std::thread t;
  {
    Store::Lock shared(s, false);
    t = std::thread([&] {
      Store::Lock ex(s, true);
      got = true;
    });
    usleep(100000);
    EXPECT_FALSE(got.load());
  }
  t.join();
  EXPECT_TRUE(got.load());
}

}  // namespace
}  // namespace kiln::oci
