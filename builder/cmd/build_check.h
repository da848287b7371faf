// `kiln build --check` / `--call=check` (buildx): the build's checks (the
// lint rules the build gate uses, every severity) over the Dockerfile,
// without building anything.
#pragma once

#include <ostream>

#include "builder/build_options.h"

namespace kiln::builder {

// Prints the findings and a summary line to `out`; returns the exit code:
// 1 when any warning or error was found, else 0. Throws frontend::Error
// when the Dockerfile does not parse.
int RunBuildChecks(const BuildOptions& opts, std::ostream& out);

}  // namespace kiln::builder
