// Cache-key derivation of a stage (StageExecutor): a step's state digest is
// its cache key, so the final digest of a stage built into an empty store is
// a pure function of the stage's inputs. The same inputs give the same key in
// any store; each input the step depends on changes it; what it does not
// depend on leaves it alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "builder/config_apply.h"
#include "builder/stage_executor.h"
#include "frontend/stage_graph.h"
#include "frontend/stage_vars.h"
#include "oci/store/store.h"
#include "tests/builder/fake_step_runner.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::cache_key_test {
namespace {

namespace fs = std::filesystem;

const char* kBase =
    "FROM scratch\n"
    "ARG V=1\n"
    "ENV GREETING=hello\n"
    "WORKDIR /app\n"
    "COPY app.txt ./\n"
    "RUN echo $GREETING > out\n"
    "USER 1000\n"
    "CMD [\"/app/run\"]\n";

struct Inputs {
  std::string dockerfile = kBase;
  std::string app = "v1";    // context file the COPY reads
  std::string other = "o";   // context file nothing reads
  std::string layer_time = "epoch=0";
  std::map<std::string, std::string> build_args;
  std::string platform;      // StageSettings::platform ("" = the host)
};

struct Built {
  oci::Digest digest;
  int run = 0, cached = 0;
};

// Builds the one stage of `in` into `store_dir` (a fresh store unless reused).
Built BuildInto(const fs::path& dir, const Inputs& in) {
  fs::create_directories(dir / "ctx");
  std::ofstream(dir / "ctx/app.txt") << in.app;
  std::ofstream(dir / "ctx/other.txt") << in.other;
  oci::Store store(dir / "store");
  StepCache cache(store);
  FakeRunner runner(store);
  auto df = frontend::ParseDockerfile(in.dockerfile);
  frontend::BuildArgs args;
  args.values = in.build_args;
  auto globals = frontend::ResolveGlobalArgs(df, args);
  BuildContext ctx(dir / "ctx", frontend::IgnoreMatcher(), nullptr);
  NullProgress progress;
  StageExecutor exec(runner, &cache, &ctx, progress, [](int) -> const ImageState* { return nullptr; });
  StageSettings s;
  s.created = "1970-01-01T00:00:00Z";
  s.layer_time = in.layer_time;
  s.platform = in.platform;
  s.label = "t";
  ImageState base;
  base.config = ScratchConfig(oci::Platform::Host());
  base.digest = BaseStateDigest("scratch", "test");
  const ImageState out = exec.Build(df, 0, base, frontend::StageVars(args, globals), s);
  return {out.digest, exec.steps_run(), exec.steps_cached()};
}

class CacheKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-cachekey-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Each call builds into its own empty store: no hits, keys only.
  oci::Digest Key(const Inputs& in) { return BuildInto(dir_ / std::to_string(++n_), in).digest; }
  static Inputs With(const std::string& from, const std::string& to) {
    Inputs in;
    const size_t at = in.dockerfile.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    in.dockerfile.replace(at, from.size(), to);
    return in;
  }

  fs::path dir_;
  int n_ = 0;
};

TEST_F(CacheKeyTest, SameInputsSameKeyInAnyStore) {
  const oci::Digest a = Key(Inputs{});
  EXPECT_EQ(a, Key(Inputs{}));
  EXPECT_EQ(a.algorithm, "sha256");
}

TEST_F(CacheKeyTest, RebuildInTheSameStoreHitsEveryStep) {
  const Built first = BuildInto(dir_ / "same", Inputs{});
  const Built again = BuildInto(dir_ / "same", Inputs{});
  EXPECT_GT(first.run, 0);
  EXPECT_EQ(again.run, 0);
  EXPECT_EQ(again.cached, first.run + first.cached);
  EXPECT_EQ(again.digest, first.digest);
}

TEST_F(CacheKeyTest, EachInputChangesTheKey) {
  const oci::Digest base = Key(Inputs{});
  const std::vector<std::pair<std::string, Inputs>> variants = {
      {"ARG default", With("ARG V=1", "ARG V=2")},
      {"ENV value", With("GREETING=hello", "GREETING=bye")},
      {"WORKDIR", With("WORKDIR /app", "WORKDIR /srv")},
      {"COPY dest", With("COPY app.txt ./", "COPY app.txt ./x/")},
      {"COPY --chown", With("COPY app.txt", "COPY --chown=1:1 app.txt")},
      {"COPY --chmod", With("COPY app.txt", "COPY --chmod=600 app.txt")},
      {"COPY --link", With("COPY app.txt", "COPY --link app.txt")},
      {"COPY --exclude", With("COPY app.txt", "COPY --exclude=*.md app.txt")},
      {"RUN command", With("> out", ">> out")},
      {"RUN --network", With("RUN echo", "RUN --network=none echo")},
      {"USER", With("USER 1000", "USER 1001")},
      {"CMD", With("/app/run", "/app/other")},
      {"a step added", With("CMD", "LABEL a=b\nCMD")},
      {"ADD for COPY", With("COPY app.txt", "ADD app.txt")},
  };
  for (const auto& [what, in] : variants) EXPECT_NE(Key(in), base) << what;

  Inputs content;
  content.app = "v2";
  EXPECT_NE(Key(content), base) << "content of a copied file";
  Inputs layer_time;
  layer_time.layer_time = "keep";
  EXPECT_NE(Key(layer_time), base) << "layer timestamp policy";
  Inputs build_arg;
  build_arg.build_args = {{"V", "3"}};
  EXPECT_NE(Key(build_arg), base) << "--build-arg";
  // A step cached for one platform is never taken for another, even on the
  // same parent (a directory context is the same for every platform).
  Inputs arm64;
  arm64.platform = "linux/arm64";
  Inputs arm_v7;
  arm_v7.platform = "linux/arm/v7";
  EXPECT_NE(Key(arm64), base) << "platform";
  EXPECT_NE(Key(arm64), Key(arm_v7)) << "platform";
  EXPECT_EQ(Key(arm64), Key(arm64));
}

TEST_F(CacheKeyTest, WhatNoStepReadsLeavesTheKey) {
  const oci::Digest base = Key(Inputs{});
  Inputs other;
  other.other = "changed";
  EXPECT_EQ(Key(other), base) << "a context file no COPY names";
  EXPECT_EQ(Key(With("ENV GREETING", "# a comment\nENV GREETING")), base) << "a comment line";
  Inputs unused;
  unused.build_args = {{"NOT_DECLARED", "x"}};
  EXPECT_EQ(Key(unused), base) << "a --build-arg the Dockerfile does not declare";
}

// Keys are per step: a change late in the stage leaves the earlier steps'
// keys, so a rebuild in the same store reruns from the changed step on.
// (Only RUN, COPY/ADD and WORKDIR count as steps; config-only instructions
// are recomputed, not counted.)
TEST_F(CacheKeyTest, ChangeRerunsFromTheChangedStepOn) {
  const Built first = BuildInto(dir_ / "s", Inputs{});
  ASSERT_EQ(first.run, 3);  // WORKDIR, COPY, RUN
  const Built changed = BuildInto(dir_ / "s", With("> out", ">> out"));
  EXPECT_EQ(changed.cached, 2);  // WORKDIR and COPY
  EXPECT_EQ(changed.run, 1);     // the RUN
  EXPECT_NE(changed.digest, first.digest);
}

}  // namespace
}  // namespace kiln::builder::cache_key_test
