// Placeholder: registers the subcommand so the CLI is complete; the body
// arrives with its issue.
#include <CLI/CLI.hpp>

#include <stdexcept>

#include "builder/commands.h"

namespace kiln::builder {

void AddStoreCommands(CLI::App& app) {
  app.add_subcommand("fsck", "Check the local store for corrupt or orphaned blobs")->allow_extras()->callback([] { throw std::runtime_error("'kiln fsck' is not implemented yet"); });
  app.add_subcommand("prune", "Remove what no tag or cache entry reaches")->allow_extras()->callback([] { throw std::runtime_error("'kiln prune' is not implemented yet"); });
}

}  // namespace kiln::builder
