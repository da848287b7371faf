// The sandbox helper process (see MaybeRunHelper in run.h) and the wire
// format between Run() and it.
//
// Run() executes `/proc/self/exe __kiln-sandbox-init PARENT_PID` with
//   fd 0  the command's stdin (a memfd holding RunSpec::stdin_data, or /dev/null)
//   fd 1,2 the write end of the output pipe (stdout and stderr merged)
//   fd 3  a memfd holding the spec as JSON (SpecToJson)
//   fd 4  the status pipe: the helper writes one JSON object before it exits,
//         {"status": WAIT_STATUS} when the command ran (wait(2) encoding),
//         {"killed": true} when it was killed (KillAll, timeout), or
//         {"error": "TEXT"} when the sandbox could not be set up.
// The helper unshares mount/pid/ipc/uts(/net) namespaces, creates missing
// mount points, forks the init (pid 1 of the new pid namespace) which
// mounts, pivot_roots and forks the command; the helper then waits, removes
// the mount stubs and reports. SIGTERM to the helper kills the sandbox.
#pragma once

#include <string>

#include "sandbox/run.h"
#include "sandbox/run_spec_wire.h"

namespace kiln::sandbox {

inline constexpr const char* kHelperArg = "__kiln-sandbox-init";

// The helper's main; returns its exit code.
int HelperMain(int argc, char** argv);

}  // namespace kiln::sandbox
