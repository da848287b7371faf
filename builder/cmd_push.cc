// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddPushCommand(CLI::App& app) {
  app.add_subcommand("push", "Push an image to a registry")->allow_extras()->callback([] { throw std::runtime_error("'kiln push' is not implemented yet"); });
}

}  // namespace kiln::builder
