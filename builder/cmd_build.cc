// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddBuildCommand(CLI::App& app) {
  app.add_subcommand("build", "Build an image from a Dockerfile")->allow_extras()->callback([] { throw std::runtime_error("'kiln build' is not implemented yet"); });
}

}  // namespace kiln::builder
