// The stage graph: which stage depends on which (FROM <stage>, COPY --from,
// RUN --mount=from=), a topological order, and the sets of stages that can be
// built side by side. --target prunes it to the stages the target needs.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/instructions.h"

namespace kiln::frontend {

struct BuildArgs {
  std::map<std::string, std::string> values;  // --build-arg K=V
  // Filled from the host by DefaultBuildArgs(): TARGETPLATFORM, BUILDARCH, *_PROXY, ...
  std::map<std::string, std::string> predefined;
};
BuildArgs DefaultBuildArgs();
// The automatic platform args as BuildKit defines them: TARGETPLATFORM
// TARGETOS TARGETARCH TARGETVARIANT for the platform being built, BUILDPLATFORM
// BUILDOS BUILDARCH BUILDVARIANT for the machine building it. Platforms are
// normalised "os/arch[/variant]" strings (oci::Platform::str()).
void SetPlatformArgs(BuildArgs& args, const std::string& target_platform, const std::string& build_platform);

struct StageNode {
  int index = 0;                  // position in Dockerfile::stages
  std::string base_image;         // FROM after global-ARG expansion; empty if FROM <stage>
  std::optional<int> base_stage;  // FROM <stage>
  bool scratch = false;
  std::string platform;           // FROM --platform after global-ARG expansion
  std::set<int> depends_on;       // stages needed (base + COPY --from + mount from)
  std::set<std::string> images;   // external images referenced (FROM, --from=image)
};

struct StageGraph {
  std::vector<StageNode> nodes;            // one per Dockerfile stage
  int target = -1;                         // the stage to build (last by default)
  std::vector<int> order;                  // topological, only stages the target needs
  std::vector<std::vector<int>> waves;     // stages that may run in parallel, in order
  std::vector<std::string> unused_build_args;  // --build-arg given but never declared
};

// Resolves FROM lines with global ARGs and build args, stage references by
// name (case-insensitive) or index. Throws Error for unknown --target, cycles,
// references to later or unknown stages.
StageGraph BuildStageGraph(const Dockerfile& df, const BuildArgs& args,
                           const std::string& target = "");

// Stage referenced by a --from value: a stage name or index earlier than
// `before`; nullopt means it names an image.
std::optional<int> ResolveStageRef(const Dockerfile& df, const std::string& ref, int before);
// Same, with the location of the referring instruction for the error
// ("circular dependency", "defined later", "invalid stage index").
std::optional<int> ResolveStageRef(const Dockerfile& df, const std::string& ref, int before,
                                   const Location& where);

// Stage index for a --target name (case-insensitive); throws Error with a
// did-you-mean when no stage has that name.
int FindTargetStage(const Dockerfile& df, const std::string& target);

}  // namespace kiln::frontend
