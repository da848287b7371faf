// The linter's script checker (frontend/lint/shellcheck.h) as a run of
// Debian's shellcheck through sandbox/subprocess: the script on its stdin,
// its JSON parsed by the frontend.
#pragma once

#include <optional>

#include "frontend/lint/shellcheck.h"

namespace kiln::builder {

// A checker running the shellcheck found on $PATH; nullopt when it is not
// installed. The checker throws builder::Error when shellcheck fails to run
// or says nothing parseable.
std::optional<frontend::lint::ScriptChecker> FindShellcheck();

}  // namespace kiln::builder
