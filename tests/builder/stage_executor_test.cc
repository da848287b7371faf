// The stage logic (expansion, config, cache keys and hits) driven through the
// StepRunner seam with a fake runner: no mounts, no processes.
#include "builder/stage_executor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "builder/config_apply.h"
#include "frontend/stage_graph.h"
#include "frontend/stage_vars.h"
#include "oci/store/store.h"
#include "tests/builder/fake_step_runner.h"
#include "tests/builder/store_fixture.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;

class StageTest : public StoreFixture {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "ctx");
    std::ofstream(dir_ / "ctx/app.txt") << "v1";
    std::ofstream(dir_ / "ctx/other.txt") << "o";
    cache_ = std::make_unique<StepCache>(*store_);
  }

  struct Outcome {
    ImageState state;
    int run = 0, cached = 0;
  };
  Outcome BuildStage(const std::string& dockerfile, FakeRunner& runner, bool no_cache = false,
                     std::map<std::string, std::string> build_args = {}) {
    auto df = frontend::ParseDockerfile(dockerfile);
    frontend::BuildArgs args;
    args.values = build_args;
    auto globals = frontend::ResolveGlobalArgs(df, args);
    BuildContext ctx(dir_ / "ctx", frontend::IgnoreMatcher(), nullptr);
    NullProgress progress;
    std::map<int, ImageState> states;
    StageExecutor exec(runner, cache_.get(), &ctx, progress, [&](int i) -> const ImageState* {
      auto it = states.find(i);
      return it == states.end() ? nullptr : &it->second;
    });
    StageSettings s;
    s.no_cache = no_cache;
    s.created = "1970-01-01T00:00:00Z";
    s.layer_time = "epoch=0";
    s.label = "t";
    Outcome out;
    for (size_t i = 0; i < df.stages.size(); ++i) {
      ImageState base;
      base.config = ScratchConfig(oci::Platform::Host());
      base.digest = BaseStateDigest("scratch", "test");
      if (auto ref = frontend::ResolveStageRef(df, df.stages[i].from.image, int(i))) base = states.at(*ref);
      states[int(i)] = exec.Build(df, int(i), base, frontend::StageVars(args, globals), s);
    }
    out.state = states.at(int(df.stages.size()) - 1);
    out.run = exec.steps_run();
    out.cached = exec.steps_cached();
    return out;
  }

  std::unique_ptr<StepCache> cache_;
};

const char* kDockerfile =
    "FROM scratch\n"
    "ENV GREETING=hello\n"
    "WORKDIR /app\n"
    "COPY app.txt ./\n"
    "RUN echo $GREETING > out\n"
    "USER 1000\n"
    "CMD [\"/app/run\"]\n";

TEST_F(StageTest, FirstBuildRunsStepsAndRecordsHistory) {
  FakeRunner r(*store_);
  auto o = BuildStage(kDockerfile, r);
  EXPECT_EQ(o.run, 3);  // WORKDIR, COPY, RUN
  EXPECT_EQ(o.cached, 0);
  ASSERT_EQ(r.copies.size(), 1u);
  EXPECT_EQ(r.copies[0].workdir, "/app");
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $GREETING > out"}));
  EXPECT_EQ(r.runs[0].cwd, "/app");
  bool has_greeting = false;
  for (const auto& e : r.runs[0].env) has_greeting |= e == "GREETING=hello";
  EXPECT_TRUE(has_greeting);
  const auto& c = o.state.config;
  EXPECT_EQ(c.config.user, "1000");
  EXPECT_EQ(c.config.working_dir, "/app");
  EXPECT_EQ(*c.config.cmd, std::vector<std::string>{"/app/run"});
  EXPECT_EQ(c.diff_ids.size(), 3u);
  EXPECT_EQ(o.state.layers.size(), 3u);
  ASSERT_EQ(c.history.size(), 6u);
  EXPECT_EQ(c.history[2].created_by, "COPY app.txt ./ # buildkit");
  EXPECT_FALSE(c.history[2].empty_layer);
  EXPECT_EQ(c.history[3].created_by, "RUN /bin/sh -c echo $GREETING > out # buildkit");
  EXPECT_TRUE(c.history[0].empty_layer);
  // WORKDIR created /app at once (BuildKit's mkdir), as root: USER comes later.
  ASSERT_EQ(r.workdirs.size(), 1u);
  EXPECT_EQ(r.workdirs[0].path, "/app");
  EXPECT_EQ(r.workdirs[0].user, "");
  EXPECT_EQ(c.history[1].created_by, "WORKDIR /app");
  EXPECT_FALSE(c.history[1].empty_layer);
}

TEST_F(StageTest, NoOpRebuildIsAllCachedAndIdentical) {
  FakeRunner r1(*store_);
  auto first = BuildStage(kDockerfile, r1);
  FakeRunner r2(*store_);
  auto second = BuildStage(kDockerfile, r2);
  EXPECT_EQ(second.run, 0);
  EXPECT_EQ(second.cached, 3);
  EXPECT_TRUE(r2.runs.empty());
  EXPECT_TRUE(r2.workdirs.empty());
  EXPECT_TRUE(r2.copies.empty());
  EXPECT_EQ(oci::ToJson(first.state.config), oci::ToJson(second.state.config));
  EXPECT_EQ(first.state.digest, second.state.digest);
}

TEST_F(StageTest, ContextChangeRerunsOnlyDependentSteps) {
  const std::string df =
      "FROM scratch\n"
      "RUN setup\n"
      "COPY app.txt /\n"
      "RUN build\n";
  FakeRunner r1(*store_);
  BuildStage(df, r1);
  std::ofstream(dir_ / "ctx/app.txt") << "v2";
  FakeRunner r2(*store_);
  auto o = BuildStage(df, r2);
  EXPECT_EQ(o.cached, 1);  // RUN setup
  EXPECT_EQ(o.run, 2);     // COPY and the RUN after it
  ASSERT_EQ(r2.runs.size(), 1u);
  EXPECT_EQ(r2.runs[0].argv.back(), "build");
  // An unrelated file changing invalidates nothing.
  std::ofstream(dir_ / "ctx/other.txt") << "o2";
  FakeRunner r3(*store_);
  EXPECT_EQ(BuildStage(df, r3).run, 0);
}

// COPY --link's layer does not depend on what is below it: after a change
// above it (here a RUN's argument), a rebuild stacks the same layer again
// without copying; a plain COPY is copied again.
TEST_F(StageTest, LinkedCopyLayerSurvivesAChangedParent) {
  const auto df = [](const std::string& v, const std::string& link) {
    return "FROM scratch\nRUN setup " + v + "\nCOPY " + link + "app.txt /\n";
  };
  for (const std::string link : {"--link ", ""}) {
    FakeRunner r1(*store_);
    auto first = BuildStage(df("1" + link, link), r1);
    FakeRunner r2(*store_);
    auto second = BuildStage(df("2" + link, link), r2);
    EXPECT_EQ(r2.runs.size(), 1u) << link;
    EXPECT_EQ(r2.copies.size(), link.empty() ? 1u : 0u) << link;
    EXPECT_EQ(second.cached, link.empty() ? 0 : 1) << link;
    EXPECT_NE(first.state.digest, second.state.digest) << "the states still differ";
    if (!link.empty()) {
      EXPECT_EQ(first.state.layers.back().digest.str(), second.state.layers.back().digest.str()) << "reused";
      EXPECT_EQ(first.state.config.diff_ids.back().str(), second.state.config.diff_ids.back().str());
    }
    ASSERT_EQ(r1.copies.size(), 1u);
    EXPECT_EQ(r1.copies[0].copy.link, !link.empty());
  }
}

TEST_F(StageTest, BuildArgChangesRunKeyAndHistory) {
  const std::string df = "FROM scratch\nARG V=1\nRUN echo $V\n";
  FakeRunner r1(*store_);
  auto a = BuildStage(df, r1);
  EXPECT_EQ(a.state.config.history.back().created_by, "RUN |1 V=1 /bin/sh -c echo $V # buildkit");
  FakeRunner r2(*store_);
  auto b = BuildStage(df, r2, false, {{"V", "2"}});
  EXPECT_EQ(b.run, 1);
  EXPECT_EQ(b.state.config.history.back().created_by, "RUN |1 V=2 /bin/sh -c echo $V # buildkit");
  bool seen = false;
  for (const auto& e : r2.runs.at(0).env) seen |= e == "V=2";
  EXPECT_TRUE(seen);
}

TEST_F(StageTest, NoCacheRunsEverything) {
  FakeRunner r1(*store_);
  BuildStage(kDockerfile, r1);
  FakeRunner r2(*store_);
  auto o = BuildStage(kDockerfile, r2, true);
  EXPECT_EQ(o.run, 3);
  EXPECT_EQ(o.cached, 0);
}

TEST_F(StageTest, MissingContextFileNamesTheLine) {
  FakeRunner r(*store_);
  try {
    BuildStage("FROM scratch\nENV A=1\n\nCOPY missing.txt /x\n", r);
    FAIL() << "expected an error";
  } catch (const frontend::Error& e) {
    EXPECT_EQ(std::string(e.what()), "Dockerfile:4: COPY missing.txt: file not found in build context");
  }
  EXPECT_TRUE(r.copies.empty());
}

TEST_F(StageTest, FailedRunIsAStepErrorWithTail) {
  FakeRunner r(*store_);
  r.fail_next = true;
  try {
    BuildStage("FROM scratch\nRUN false\n", r);
    FAIL() << "expected an error";
  } catch (const StepError& e) {
    EXPECT_EQ(std::string(e.what()), "Dockerfile:2: RUN false: exit code 2");
    EXPECT_EQ(e.tail(), std::vector<std::string>{"boom"});
  }
  // Nothing was recorded for the failed step: the next build runs it again.
  FakeRunner r2(*store_);
  EXPECT_EQ(BuildStage("FROM scratch\nRUN false\n", r2).run, 1);
}

TEST_F(StageTest, CopyFromStageKeysOnThatStage) {
  const std::string df =
      "FROM scratch AS a\nRUN make\n"
      "FROM scratch\nCOPY --from=a /out /out\n";
  FakeRunner r1(*store_);
  auto o = BuildStage(df, r1);
  ASSERT_EQ(r1.copies.size(), 1u);
  ASSERT_NE(r1.copies[0].from, nullptr);
  EXPECT_EQ(o.run, 2);
  FakeRunner r2(*store_);
  EXPECT_EQ(BuildStage(df, r2).cached, 2);
  // Changing stage a's RUN changes the COPY's key too.
  FakeRunner r3(*store_);
  auto o3 = BuildStage("FROM scratch AS a\nRUN make all\nFROM scratch\nCOPY --from=a /out /out\n", r3);
  EXPECT_EQ(o3.run, 2);
}

TEST_F(StageTest, RunHeredocIsPassedToTheShell) {
  FakeRunner r(*store_);
  BuildStage("FROM scratch\nRUN <<EOF\necho one\necho two\nEOF\n", r);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "echo one\necho two\n"}));
}

TEST_F(StageTest, WorkdirCreatesItsDirectoryAsUserAndChains) {
  const std::string df =
      "FROM scratch\n"
      "WORKDIR /\n"        // nothing to create: config only
      "USER app\n"
      "WORKDIR /a\n"
      "WORKDIR b\n"
      "WORKDIR ../c\n";
  FakeRunner r(*store_);
  r.workdir_exists = true;  // e.g. the base has them: no layer
  auto o = BuildStage(df, r);
  ASSERT_EQ(r.workdirs.size(), 3u);
  EXPECT_EQ(r.workdirs[0].path, "/a");
  EXPECT_EQ(r.workdirs[1].path, "/a/b");
  EXPECT_EQ(r.workdirs[2].path, "/a/c");
  for (const auto& w : r.workdirs) EXPECT_EQ(w.user, "app");
  const auto& c = o.state.config;
  EXPECT_EQ(c.config.working_dir, "/a/c");
  EXPECT_TRUE(c.diff_ids.empty());
  ASSERT_EQ(c.history.size(), 5u);
  EXPECT_EQ(c.history[0].created_by, "WORKDIR /");
  EXPECT_EQ(c.history[4].created_by, "WORKDIR /a/c");
  for (const auto& h : c.history) EXPECT_TRUE(h.empty_layer);
  // A different USER is a different step (the owner differs).
  FakeRunner r2(*store_);
  auto o2 = BuildStage("FROM scratch\nUSER other\nWORKDIR /a\n", r2);
  EXPECT_EQ(o2.run, 1);
}

// Another stage of the build failed: this one stops before its next step.
TEST_F(StageTest, StopsBeforeTheNextStepWhenAskedTo) {
  FakeRunner r(*store_);
  auto df = frontend::ParseDockerfile(kDockerfile);
  frontend::BuildArgs args;
  BuildContext ctx(dir_ / "ctx", frontend::IgnoreMatcher(), nullptr);
  NullProgress progress;
  StageExecutor exec(r, cache_.get(), &ctx, progress, [](int) -> const ImageState* { return nullptr; });
  std::atomic<bool> stop{true};
  StageSettings s;
  s.label = "t";
  s.stop = &stop;
  ImageState base;
  base.config = ScratchConfig(oci::Platform::Host());
  base.digest = BaseStateDigest("scratch", "test");
  EXPECT_THROW(exec.Build(df, 0, base, frontend::StageVars(args, frontend::ResolveGlobalArgs(df, args)), s), StageStopped);
  EXPECT_EQ(r.runs.size() + r.copies.size() + r.workdirs.size(), 0u);
  stop = false;
  exec.Build(df, 0, base, frontend::StageVars(args, frontend::ResolveGlobalArgs(df, args)), s);
  EXPECT_EQ(r.runs.size(), 1u);
}

}  // namespace
}  // namespace kiln::builder
