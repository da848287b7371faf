// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddSignCommands(CLI::App& app) {
  app.add_subcommand("sign", "Sign an image")->allow_extras()->callback([] { throw std::runtime_error("'kiln sign' is not implemented yet"); });
  app.add_subcommand("verify", "Verify an image signature")->allow_extras()->callback([] { throw std::runtime_error("'kiln verify' is not implemented yet"); });
  app.add_subcommand("keygen", "Create a signing key pair")->allow_extras()->callback([] { throw std::runtime_error("'kiln keygen' is not implemented yet"); });
}

}  // namespace kiln::builder
