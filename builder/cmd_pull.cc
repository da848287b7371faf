// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddPullCommand(CLI::App& app) {
  app.add_subcommand("pull", "Pull an image from a registry")->allow_extras()->callback([] { throw std::runtime_error("'kiln pull' is not implemented yet"); });
}

}  // namespace kiln::builder
