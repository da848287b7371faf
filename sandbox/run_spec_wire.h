// The RunSpec as it crosses from Run() to the sandbox helper (fd 3 of the
// helper, see init.h): JSON, with the current isolation level, which the
// helper cannot probe for itself from inside its namespaces.
#pragma once

#include <string>

#include "sandbox/run.h"

namespace kiln::sandbox {

std::string SpecToJson(const RunSpec& spec);
// Throws sandbox::Error on malformed input.
RunSpec SpecFromJson(const std::string& json);

}  // namespace kiln::sandbox
