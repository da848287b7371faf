// The plan of a multi-platform build: one stage instance per (stage,
// platform, TARGET* args it declares, deps); targets share identical ones.
#include "builder/platform_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "frontend/error.h"

namespace kiln::builder::platform_plan_test {
namespace {

const oci::Platform kAmd64 = oci::Platform::Parse("linux/amd64");
const oci::Platform kArm64 = oci::Platform::Parse("linux/arm64");

PlatformPlan Plan(const std::string& dockerfile, const std::vector<oci::Platform>& platforms,
                  const std::string& target = "") {
  static frontend::Dockerfile df;  // the plan refers to nothing in it, but keep it alive like Build() does
  df = frontend::ParseDockerfile(dockerfile);
  return PlanPlatforms(df, frontend::DefaultBuildArgs(), target, platforms, kAmd64);
}

int Count(const PlatformPlan& p, int stage) {
  int n = 0;
  for (const auto& i : p.instances) n += i.stage == stage;
  return n;
}

// The cross-compile pattern: the $BUILDPLATFORM stage that does not declare
// TARGETARCH is built once; the one that does is built per target.
const char* kCross =
    "FROM --platform=$BUILDPLATFORM busybox AS tools\n"   // 0: shared
    "RUN echo tools\n"
    "FROM --platform=$BUILDPLATFORM busybox AS build\n"   // 1: per target (declares TARGETARCH)
    "ARG TARGETARCH\n"
    "RUN echo $TARGETARCH > /out\n"
    "FROM busybox\n"                                      // 2: per target, on the target
    "COPY --from=tools / /tools\n"
    "COPY --from=build /out /out\n";

TEST(PlatformPlan, SharedBuildPlatformStageIsPlannedOnce) {
  const PlatformPlan p = Plan(kCross, {kAmd64, kArm64});
  ASSERT_EQ(p.targets.size(), 2u);
  EXPECT_TRUE(p.labelled);
  EXPECT_EQ(Count(p, 0), 1);
  EXPECT_EQ(Count(p, 1), 2);
  EXPECT_EQ(Count(p, 2), 2);
  const StageInstance& amd = p.instances.at(size_t(p.targets[0].instance));
  const StageInstance& arm = p.instances.at(size_t(p.targets[1].instance));
  EXPECT_EQ(amd.platform, kAmd64);
  EXPECT_EQ(arm.platform, kArm64);
  EXPECT_EQ(amd.deps.at(0), arm.deps.at(0));  // one tools instance
  EXPECT_NE(amd.deps.at(1), arm.deps.at(1));  // a build instance each
  // Both build instances run on the build machine, with their own TARGETARCH.
  for (int b : {amd.deps.at(1), arm.deps.at(1)}) EXPECT_EQ(p.instances.at(size_t(b)).platform, kAmd64);
  EXPECT_EQ(p.targets[1].args.predefined.at("TARGETARCH"), "arm64");
  EXPECT_EQ(p.targets[1].args.predefined.at("BUILDARCH"), "amd64");
  // Waves: tools and both builds first, then both finals.
  ASSERT_EQ(p.waves.size(), 2u);
  EXPECT_EQ(p.waves[0].size(), 3u);
  EXPECT_EQ(p.waves[1].size(), 2u);
}

TEST(PlatformPlan, StagesWithoutBuildPlatformArePerTarget) {
  const PlatformPlan p = Plan("FROM busybox AS a\nRUN true\nFROM a\nRUN true\n", {kAmd64, kArm64});
  EXPECT_EQ(p.instances.size(), 4u);
  // A stage FROM another stage runs on that stage's platform.
  const StageInstance& arm = p.instances.at(size_t(p.targets[1].instance));
  EXPECT_EQ(arm.platform, kArm64);
  EXPECT_EQ(p.instances.at(size_t(arm.deps.at(0))).platform, kArm64);
}

TEST(PlatformPlan, OnePlatformIsTheStageGraph) {
  const char* df =
      "FROM a AS one\nRUN x\n"
      "FROM b AS two\nRUN y\n"
      "FROM c AS unused\n"
      "FROM scratch\nCOPY --from=one / /\nCOPY --from=two / /\n";
  for (const auto& platforms : {std::vector<oci::Platform>{}, std::vector<oci::Platform>{kArm64}}) {
    const PlatformPlan p = Plan(df, platforms);
    EXPECT_FALSE(p.labelled);
    ASSERT_EQ(p.targets.size(), 1u);
    ASSERT_EQ(p.waves.size(), 2u);
    std::vector<int> first;
    for (int id : p.waves[0]) first.push_back(p.instances.at(size_t(id)).stage);
    EXPECT_EQ(first, (std::vector<int>{0, 1}));
    EXPECT_EQ(p.instances.at(size_t(p.waves[1][0])).stage, 3);
    EXPECT_EQ(p.instances.size(), 3u);  // "unused" is not planned
  }
  // Without --platform the args stay the host's; with one, the target's.
  EXPECT_EQ(Plan(df, {kArm64}).targets[0].args.predefined.at("TARGETPLATFORM"), "linux/arm64");
  EXPECT_EQ(Plan(df, {kArm64}).instances[0].platform, kArm64);
}

TEST(PlatformPlan, Labels) {
  frontend::Dockerfile df = frontend::ParseDockerfile("FROM busybox AS app\nFROM app\n");
  const PlatformPlan multi = PlanPlatforms(df, frontend::DefaultBuildArgs(), "", {kAmd64, kArm64}, kAmd64);
  std::set<std::string> labels;
  for (size_t i = 0; i < multi.instances.size(); ++i) labels.insert(InstanceLabel(df, multi, int(i)));
  EXPECT_EQ(labels, (std::set<std::string>{"linux/amd64 app", "linux/amd64 stage-1", "linux/arm64 app",
                                           "linux/arm64 stage-1"}));
  const PlatformPlan one = PlanPlatforms(df, frontend::DefaultBuildArgs(), "", {kArm64}, kAmd64);
  EXPECT_EQ(InstanceLabel(df, one, one.targets[0].instance), "stage-1");
}

TEST(PlatformPlan, BadPlatformsAreDockerfileErrors) {
  EXPECT_THROW(Plan("FROM --platform=linux/a/b/c/d busybox\n", {}), frontend::Error);
  EXPECT_THROW(Plan("FROM --platform=windows/amd64 busybox\n", {}), frontend::Error);
}

}  // namespace
}  // namespace kiln::builder::platform_plan_test
