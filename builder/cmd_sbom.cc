// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddSbomCommand(CLI::App& app) {
  app.add_subcommand("sbom", "Print the SBOM of an image")->allow_extras()->callback([] { throw std::runtime_error("'kiln sbom' is not implemented yet"); });
}

}  // namespace kiln::builder
