// Expansion of an instruction against the variables in scope when it is
// dispatched: which fields BuildKit expands, heredoc bodies as the step sees
// them, and the checks that only hold after expansion (an empty VOLUME).
#pragma once

#include "frontend/instructions.h"

namespace kiln::frontend {

// Returns a copy of the instruction with every field BuildKit expands
// expanded against `vars` (RUN/CMD/ENTRYPOINT/SHELL text is left alone).
// Heredoc bodies are resolved: `<<-` tabs chomped, COPY bodies with unquoted
// delimiters expanded (quotes kept); RUN bodies are left to the shell.
// Throws Error with the instruction's location.
Instruction Expand(const Instruction& in, const VarMap& vars, char escape = '\\');

}  // namespace kiln::frontend
