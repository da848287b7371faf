// RUN --mount=type=ssh: the agent socket given with `kiln build --ssh` (or
// kiln's own agent serving the key files given) bound into the step,
// SSH_AUTH_SOCK pointing at it (BuildKit's agent forwarding).
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
// else the step runs without it (BuildKit). Throws builder::Error.
std::optional<sandbox::Mount> SshAgentMount(const frontend::MountSpec& m, const std::vector<SshSpec>& ssh,
                                            const std::string& cwd, std::vector<std::string>& env);

// --ssh's value: "default", "ID=SOCKET" or "ID=KEY[,KEY...]" (buildx's
// forms). A missing path is $SSH_AUTH_SOCK. Key files stay key files until
// ServeSshKeys. Throws std::invalid_argument.
SshSpec ParseSshFlag(const std::string& value);

// Serves the key files of `ssh` as agents, as buildx does for --ssh ID=KEY:
// for each such id, ssh-agent (openssh-client) started with the keys loaded
// by ssh-add, never prompting (a key with a passphrase is refused, saying to
// load it into an agent); its socket replaces the key paths. The agents are
// stopped and their sockets removed when kiln exits, or dies (they get
// SIGTERM when the calling thread ends: call this from the main thread of
// the process that runs the build, after the namespace re-exec). Throws
// builder::Error.
void ServeSshKeys(std::vector<SshSpec>& ssh);

}  // namespace kiln::builder
