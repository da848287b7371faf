// The process's original argv, kept for commands that must re-execute kiln
// inside the build's user namespace (sandbox::EnterBuildNamespace).
#pragma once

namespace kiln::builder {

void SetProcessArgs(int argc, char** argv);
int ProcessArgc();
char** ProcessArgv();

}  // namespace kiln::builder
