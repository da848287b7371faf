// The subcommand table. Each subcommand lives in builder/cmd_<name>.cc and
// registers its flags and body on the app; bodies are thin wrappers over the
// libraries. A body reports failure by throwing (the message is printed as
// "kiln: error: ..." and the exit code is 1) or by throwing ExitCode.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace kiln::builder {

// Thrown by a command body to end with a specific exit code (e.g. lint's 1
// when findings reach the threshold) after it printed what it had to.
struct ExitCode {
  int code;
};

void AddBuildCommand(CLI::App& app);
void AddImagesCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddRmiCommand(CLI::App& app);
void AddPushCommand(CLI::App& app);
void AddPullCommand(CLI::App& app);
void AddLintCommand(CLI::App& app);
void AddParseCommand(CLI::App& app);
void AddSbomCommand(CLI::App& app);
void AddSignCommands(CLI::App& app);   // sign, verify, keygen
void AddLoginCommands(CLI::App& app);  // login, logout
void AddStoreCommands(CLI::App& app);  // fsck, prune
void AddVersionCommand(CLI::App& app);
void AddCompletionCommands(CLI::App& app);  // completion, man (hidden)
void AddLayerCommand(CLI::App& app);   // hidden plumbing: layer create

// "kiln <version> (commit <sha>)", shared by --version and `kiln version`.
std::string VersionLine();

}  // namespace kiln::builder
