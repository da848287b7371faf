// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddLintCommand(CLI::App& app) {
  app.add_subcommand("lint", "Lint Dockerfiles")->allow_extras()->callback([] { throw std::runtime_error("'kiln lint' is not implemented yet"); });
}

}  // namespace kiln::builder
