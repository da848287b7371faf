// RUN --mount=type=ssh: the agent socket given with `kiln build --ssh` bound
// into the step, SSH_AUTH_SOCK pointing at it (BuildKit's agent forwarding).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "builder/build_options.h"
#include "frontend/instructions.h"
#include "sandbox/run.h"

namespace kiln::builder {

// The mount for `m` (id "default" unless it names one) from `ssh`, with
// SSH_AUTH_SOCK added to `env`. A missing id is an error when m.required,
// else the step runs without it (BuildKit). Throws std::runtime_error.
std::optional<sandbox::Mount> SshAgentMount(const frontend::MountSpec& m, const std::vector<SshSpec>& ssh,
                                            const std::string& cwd, std::vector<std::string>& env);

// --ssh's value: "default", "default=SOCKET", "ID=SOCKET". A missing socket
// is $SSH_AUTH_SOCK. Only agent sockets: key files are refused, with how to
// load them into an agent. Throws std::invalid_argument.
SshSpec ParseSshFlag(const std::string& value);

}  // namespace kiln::builder
