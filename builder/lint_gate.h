// The lint gate before a build (frontend/lint): --lint=error stops the build
// on error findings, --lint=warn prints every finding, --lint=off skips it.
// Rules about the base image (its USER, what /bin/sh is) ask for it lazily.
#pragma once

#include <functional>
#include <string>

#include "builder/build_options.h"
#include "builder/image_state.h"
#include "frontend/instructions.h"
#include "oci/store/store.h"

namespace kiln::builder {

// base: the image a FROM names as the Dockerfile spells it, resolved (the
// gate asks only when a rule needs it); nullptr for a stage or scratch.
// Throws builder::Error when --lint=error finds errors (after printing them).
void LintGate(const BuildOptions& opts, const frontend::Dockerfile& df, const std::string& text,
              const std::string& display, const oci::Store& store,
              const std::function<const ImageState*(const std::string& spelled)>& base);

}  // namespace kiln::builder
