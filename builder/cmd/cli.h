// The `kiln` command line (CLI11): one table of subcommands, each a thin
// wrapper over the libraries. Exit codes: 0 ok, 1 failure, 2 usage error.
#pragma once

namespace kiln::builder {

int RunCli(int argc, char** argv);

}  // namespace kiln::builder
