// The build plan for one or more target platforms (`--platform a,b`): the
// stage graph of each target, with the automatic platform args set for it,
// folded into one graph of stage instances. A stage instance is a stage built
// for one platform with the args it sees; two targets that need an identical
// instance share it (the cross-compile pattern: `FROM --platform=$BUILDPLATFORM`
// stages that do not declare a TARGET* arg are built once), as BuildKit does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "frontend/instructions.h"
#include "frontend/stage_graph.h"
#include "frontend/stage_vars.h"
#include "oci/platform.h"

namespace kiln::builder {

struct StageInstance {
  int stage = 0;               // index in Dockerfile::stages
  oci::Platform platform;      // FROM --platform (expanded), else the target's
  frontend::StageNode node;    // FROM resolved with the args of the target that planned it
  size_t target = 0;           // that target: PlatformPlan::targets index (for its args)
  std::map<int, int> deps;     // stage index -> instance id, for FROM <stage>, COPY/mount --from
  std::string key;             // identity: stage, platform, base, the TARGET* args it declares, deps
};

struct PlatformTarget {
  oci::Platform platform;
  frontend::BuildArgs args;      // with TARGET*/BUILD* for this target
  frontend::GlobalArgs globals;
  int instance = -1;             // the --target stage's instance for this platform
};

struct PlatformPlan {
  std::vector<PlatformTarget> targets;      // in --platform order
  std::vector<StageInstance> instances;
  std::vector<std::vector<int>> waves;      // instance ids that may run side by side, in order
  std::vector<std::string> unused_build_args;
  bool labelled = false;                    // more than one platform: progress shows each step's
};

// Plans the build of `target` (a stage name, "" = last) for each of
// `platforms` (empty: the host, as before multi-platform existed) on a
// machine of platform `build`. Throws frontend::Error for a FROM --platform
// that is not a platform, and for a non-linux platform.
PlatformPlan PlanPlatforms(const frontend::Dockerfile& df, const frontend::BuildArgs& args,
                           const std::string& target, const std::vector<oci::Platform>& platforms,
                           const oci::Platform& build);

// "[linux/arm64 build]" style label of an instance: the stage's name (or
// stage-N), after its platform when the plan is labelled.
std::string InstanceLabel(const frontend::Dockerfile& df, const PlatformPlan& plan, int instance);

}  // namespace kiln::builder
