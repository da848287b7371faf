// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddLoginCommands(CLI::App& app) {
  app.add_subcommand("login", "Log in to a registry")->allow_extras()->callback([] { throw std::runtime_error("'kiln login' is not implemented yet"); });
  app.add_subcommand("logout", "Log out of a registry")->allow_extras()->callback([] { throw std::runtime_error("'kiln logout' is not implemented yet"); });
}

}  // namespace kiln::builder
