// The build engine, a pipeline: read the Dockerfile -> plan the stage
// instances of every target platform (builder/platform_plan.h) -> gate (can
// every RUN run here?) -> resolve the bases -> run the stages (independent
// ones side by side, up to --jobs) -> finalize each platform's image (and
// their index) -> publish: tag, sign, export, push as asked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "builder/build_options.h"
#include "builder/progress.h"
#include "oci/image.h"

namespace kiln::builder {

struct BuildResult {
  oci::Descriptor manifest;         // with 2+ platforms: their index (or manifest list)
  oci::Digest config_digest;        // the image ID; an index's own digest
  std::vector<oci::Descriptor> platform_manifests;  // one per target platform, in --platform order
  int64_t size = 0;                 // config + layers + manifest bytes
  std::vector<std::string> tags;    // as stored
  int steps_run = 0, steps_cached = 0;
};

// Runs a whole build. Must run inside the build namespace
// (sandbox::EnterBuildNamespace) when any stage has RUN or COPY steps.
// Throws frontend::Error (with Dockerfile:LINE) for Dockerfile problems and
// failed steps, oci::Error/sandbox::Error for the rest, Cancelled on a signal.
BuildResult Build(const BuildOptions& opts, Progress& progress);

// "1.2MB" style (decimal units like docker).
std::string HumanSize(int64_t bytes);

}  // namespace kiln::builder
