// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddImagesCommand(CLI::App& app) {
  app.add_subcommand("images", "List images in the local store")->allow_extras()->callback([] { throw std::runtime_error("'kiln images' is not implemented yet"); });
}

}  // namespace kiln::builder
