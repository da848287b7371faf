// `kiln rmi IMAGE...`: removes tags; `kiln prune` frees what nothing reaches.
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/error.h"
#include "oci/store/store.h"

namespace kiln::builder {

void AddRmiCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("rmi", "Remove image tags from the local store");
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("IMAGE", *names, "Images to untag")->required();
  cmd->callback([names] {
    oci::Store store(oci::Store::DefaultRoot());
    std::string missing;
    for (const auto& n : *names) {
      const std::string tag = NormalizeTag(n);
      if (store.RemoveTag(tag)) std::cout << "Untagged: " << tag << "\n";
      else missing += (missing.empty() ? "" : ", ") + n;
    }
    if (!missing.empty()) throw oci::Error("rmi: no such image: " + missing);
  });
}

}  // namespace kiln::builder
