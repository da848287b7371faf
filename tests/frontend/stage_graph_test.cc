#include "frontend/stage_graph.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "frontend/context_file.h"
#include "frontend/suggest.h"

namespace kiln::frontend {
namespace {

BuildArgs NoArgs() { return BuildArgs{}; }

std::string GraphError(const std::string& text, const std::string& target = "") {
  try {
    BuildStageGraph(ParseDockerfile(text), NoArgs(), target);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::string kMulti =
    "ARG GO=1.22\n"
    "FROM golang:$GO AS Build\n"              // 0
    "RUN make\n"
    "FROM alpine AS assets\n"                 // 1
    "RUN fetch\n"
    "FROM build AS test\n"                    // 2
    "RUN --mount=type=bind,from=assets,target=/a go test\n"
    "FROM scratch AS final\n"                 // 3
    "COPY --from=BUILD /out /bin/app\n"
    "COPY --from=1 /assets /assets\n"
    "COPY --from=nginx:latest /etc/nginx /etc/nginx\n"
    "FROM final AS unrelated\n";              // 4

TEST(StageGraph, ResolvesReferencesByNameIndexAndImage) {
  StageGraph g = BuildStageGraph(ParseDockerfile(kMulti), NoArgs(), "final");
  ASSERT_EQ(g.nodes.size(), 5u);
  EXPECT_EQ(g.nodes[0].base_image, "golang:1.22");
  EXPECT_EQ(g.nodes[0].images, std::set<std::string>{"golang:1.22"});
  EXPECT_EQ(g.nodes[2].base_stage.value_or(-1), 0);
  EXPECT_TRUE(g.nodes[2].base_image.empty());
  EXPECT_EQ(g.nodes[2].depends_on, (std::set<int>{0, 1}));
  EXPECT_TRUE(g.nodes[3].scratch);
  EXPECT_EQ(g.nodes[3].depends_on, (std::set<int>{0, 1}));
  EXPECT_EQ(g.nodes[3].images, std::set<std::string>{"nginx:latest"});
  EXPECT_EQ(g.target, 3);
  // --target keeps only what final needs: not "test", not "unrelated".
  EXPECT_EQ(g.order, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(g.waves, (std::vector<std::vector<int>>{{0, 1}, {3}}));
}

TEST(StageGraph, DefaultTargetIsTheLastStage) {
  StageGraph g = BuildStageGraph(ParseDockerfile(kMulti), NoArgs());
  EXPECT_EQ(g.target, 4);
  EXPECT_EQ(g.order, (std::vector<int>{0, 1, 3, 4}));
  EXPECT_EQ(g.waves, (std::vector<std::vector<int>>{{0, 1}, {3}, {4}}));
  StageGraph t = BuildStageGraph(ParseDockerfile(kMulti), NoArgs(), "TEST");
  EXPECT_EQ(t.order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(t.waves, (std::vector<std::vector<int>>{{0, 1}, {2}}));
}

TEST(StageGraph, Errors) {
  EXPECT_EQ(GraphError(kMulti, "fnal"), "Dockerfile: target stage \"fnal\" could not be found (did you mean final?)");
  EXPECT_EQ(GraphError("FROM a AS x\nCOPY --from=y / /\nFROM b AS y\n"),
            "Dockerfile:2: stage \"y\" is used before it is defined (at Dockerfile:3)");
  EXPECT_EQ(GraphError("FROM a AS x\nCOPY --from=x / /\n"),
            "Dockerfile:2: circular dependency detected on stage: x");
  EXPECT_EQ(GraphError("FROM x AS x\n"), "Dockerfile:1: circular dependency detected on stage: x");
  EXPECT_EQ(GraphError("FROM a\nCOPY --from=1 / /\nFROM b\n"),
            "Dockerfile:2: stage 1 is defined after the stage that uses it (at Dockerfile:3)");
  EXPECT_EQ(GraphError("FROM a\nCOPY --from=7 / /\n"),
            "Dockerfile:2: invalid stage index 7: the Dockerfile has 1 stages");
  EXPECT_EQ(GraphError("FROM a\nFROM b\nRUN --mount=from=1,target=/x true\n"),
            "Dockerfile:3: circular dependency detected on stage: 1");
  EXPECT_EQ(GraphError("ARG IMG\nFROM $IMG\n"), "Dockerfile:2: base name ($IMG) should not be blank");
}

TEST(StageGraph, FromUsesGlobalArgsAndPlatformArgs) {
  BuildArgs args;
  args.values["TAG"] = "3.19";
  args.predefined["TARGETARCH"] = "arm64";
  Dockerfile df = ParseDockerfile(
      "ARG TAG=3.18\n"
      "FROM --platform=$BUILDPLATFORM alpine:$TAG AS a\n"
      "FROM busybox-$TARGETARCH:$TAG\n");
  args.predefined["BUILDPLATFORM"] = "linux/amd64";
  StageGraph g = BuildStageGraph(df, args);
  EXPECT_EQ(g.nodes[0].base_image, "alpine:3.19");
  EXPECT_EQ(g.nodes[0].platform, "linux/amd64");
  EXPECT_EQ(g.nodes[1].base_image, "busybox-arm64:3.19");
  EXPECT_TRUE(g.unused_build_args.empty());
}

TEST(StageGraph, FromFlagExpandsWithStageArgs) {
  Dockerfile df = ParseDockerfile(
      "FROM a AS src\n"
      "FROM b\n"
      "ARG SRC=src\n"
      "COPY --from=$SRC / /\n");
  StageGraph g = BuildStageGraph(df, NoArgs());
  EXPECT_EQ(g.nodes[1].depends_on, std::set<int>{0});
}

TEST(StageGraph, UnusedBuildArgsAreReportedNotFatal) {
  BuildArgs args;
  args.values = {{"USED", "1"}, {"GLOBAL_IN_FROM", "x"}, {"NOPE", "2"}, {"HTTP_PROXY", "p"},
                 {"ONLY_IN_OTHER_STAGE", "3"}};
  Dockerfile df = ParseDockerfile(
      "ARG GLOBAL_IN_FROM=y\n"
      "FROM img:$GLOBAL_IN_FROM AS one\n"
      "ARG ONLY_IN_OTHER_STAGE\n"
      "FROM b AS two\n"
      "ARG USED\n");
  StageGraph g = BuildStageGraph(df, args, "two");
  EXPECT_EQ(g.unused_build_args,
            (std::vector<std::string>{"GLOBAL_IN_FROM", "NOPE", "ONLY_IN_OTHER_STAGE"}));
  // Building "one" consumes the global used in its FROM and its own ARG.
  StageGraph one = BuildStageGraph(df, args, "one");
  EXPECT_EQ(one.unused_build_args, (std::vector<std::string>{"NOPE", "USED"}));
}

TEST(StageGraph, ResolveStageRef) {
  Dockerfile df = ParseDockerfile("FROM a AS One\nFROM b\nFROM c\n");
  EXPECT_EQ(ResolveStageRef(df, "one", 2).value_or(-1), 0);
  EXPECT_EQ(ResolveStageRef(df, "ONE", 1).value_or(-1), 0);
  EXPECT_EQ(ResolveStageRef(df, "1", 2).value_or(-1), 1);
  EXPECT_FALSE(ResolveStageRef(df, "alpine:3", 2).has_value());
  EXPECT_THROW(ResolveStageRef(df, "2", 1), Error);
}

TEST(StageGraph, DefaultBuildArgsDescribeTheHost) {
  setenv("no_proxy", "localhost", 1);
  BuildArgs a = DefaultBuildArgs();
  unsetenv("no_proxy");
  EXPECT_EQ(a.predefined["TARGETOS"], "linux");
  EXPECT_EQ(a.predefined["BUILDOS"], "linux");
  EXPECT_FALSE(a.predefined["TARGETARCH"].empty());
  EXPECT_EQ(a.predefined["TARGETPLATFORM"].rfind("linux/" + a.predefined["TARGETARCH"], 0), 0u);
  EXPECT_EQ(a.predefined["BUILDPLATFORM"], a.predefined["TARGETPLATFORM"]);
  EXPECT_EQ(a.predefined["no_proxy"], "localhost");
#if defined(__x86_64__)
  EXPECT_EQ(a.predefined["TARGETARCH"], "amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(a.predefined["TARGETARCH"], "arm64");
#endif
  EXPECT_TRUE(a.values.empty());
}

TEST(StageGraph, PlatformArgsPerTargetAsBuildKitDefinesThem) {
  BuildArgs a = DefaultBuildArgs();
  SetPlatformArgs(a, "linux/arm/v7", "linux/amd64");
  EXPECT_EQ(a.predefined["TARGETPLATFORM"], "linux/arm/v7");
  EXPECT_EQ(a.predefined["TARGETOS"], "linux");
  EXPECT_EQ(a.predefined["TARGETARCH"], "arm");
  EXPECT_EQ(a.predefined["TARGETVARIANT"], "v7");
  EXPECT_EQ(a.predefined["BUILDPLATFORM"], "linux/amd64");
  EXPECT_EQ(a.predefined["BUILDARCH"], "amd64");
  EXPECT_EQ(a.predefined["BUILDVARIANT"], "");
  // FROM lines see them: the builder stage on the build machine, the final
  // one per target.
  Dockerfile df = ParseDockerfile(
      "FROM --platform=$BUILDPLATFORM golang AS build\n"
      "ARG TARGETARCH\n"
      "RUN GOARCH=$TARGETARCH go build\n"
      "FROM --platform=$TARGETPLATFORM base-$TARGETARCH$TARGETVARIANT\n");
  StageGraph g = BuildStageGraph(df, a);
  EXPECT_EQ(g.nodes[0].platform, "linux/amd64");
  EXPECT_EQ(g.nodes[1].platform, "linux/arm/v7");
  EXPECT_EQ(g.nodes[1].base_image, "base-armv7");
  SetPlatformArgs(a, "linux/arm64", "linux/amd64");
  g = BuildStageGraph(df, a);
  EXPECT_EQ(g.nodes[0].platform, "linux/amd64");
  EXPECT_EQ(g.nodes[1].platform, "linux/arm64");
  EXPECT_EQ(g.nodes[1].base_image, "base-arm64");
}

TEST(Suggest, ClosestCandidate) {
  std::vector<std::string> words = {"COPY", "CMD", "WORKDIR", "ENTRYPOINT"};
  EXPECT_EQ(Suggest("COPPY", words).value_or(""), "COPY");
  EXPECT_EQ(Suggest("copy", words).value_or(""), "COPY");
  EXPECT_EQ(Suggest("ENTRYPONT", words).value_or(""), "ENTRYPOINT");
  EXPECT_FALSE(Suggest("XYZZY", words).has_value());
  EXPECT_FALSE(Suggest("AB", words).has_value());
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("form", "FROM"), 1u);  // a swap is one edit
}

class ContextFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-ctx-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Touch(const std::string& name) { std::ofstream(dir_ / name) << "FROM scratch\n"; }
  std::filesystem::path dir_;
};

TEST_F(ContextFile, PrefersDockerfileThenContainerfile) {
  EXPECT_THROW(FindDockerfile(dir_.string()), Error);
  Touch("Containerfile");
  EXPECT_EQ(FindDockerfile(dir_.string()), (dir_ / "Containerfile").string());
  Touch("Dockerfile");
  EXPECT_EQ(FindDockerfile(dir_.string()), (dir_ / "Dockerfile").string());
}

TEST_F(ContextFile, RejectsNonFilesAndMissingDirs) {
  std::filesystem::create_directory(dir_ / "Dockerfile");
  EXPECT_THROW(FindDockerfile(dir_.string()), Error);
  EXPECT_THROW(FindDockerfile((dir_ / "missing").string()), Error);
}

}  // namespace
}  // namespace kiln::frontend
