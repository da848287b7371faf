// The build engine: Dockerfile -> stage graph -> stages in dependency order
// (independent stages side by side, up to --jobs) -> the target's image in
// the store, tagged and exported as asked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "builder/build_options.h"
#include "builder/progress.h"
#include "oci/image.h"

namespace kiln::builder {

struct BuildResult {
  oci::Descriptor manifest;
  oci::Digest config_digest;
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
