// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddRmiCommand(CLI::App& app) {
  app.add_subcommand("rmi", "Remove an image tag from the local store")->allow_extras()->callback([] { throw std::runtime_error("'kiln rmi' is not implemented yet"); });
}

}  // namespace kiln::builder
