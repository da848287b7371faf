// Which isolation level a build runs RUN with: --isolation, else
// KILN_ISOLATION, else auto (the strongest the probe finds). Announced in
// one line on stderr at the start of the build.
#pragma once

#include <string>

#include "sandbox/isolation_level.h"

namespace kiln::builder {

// buildah's --isolation oci|rootless mean full, docker's default auto.
// Probes and chooses in the process kiln was started as; in the process
// re-executed into the build's user namespace, returns the choice it
// inherited (no second probe, no second line). Throws sandbox::Error for an
// unknown name or a forced level this machine cannot give.
// `quiet` (-q): the line is left out; provenance still records the level.
sandbox::Isolation ChooseBuildIsolation(const std::string& flag, bool quiet = false);

}  // namespace kiln::builder
