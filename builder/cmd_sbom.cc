// `kiln sbom IMAGE [--format spdx-json|cyclonedx-json]`: the SBOM of an image
// in the local store, generated from its layers (oci::GenerateSbom).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "builder/base_image.h"
#include "builder/commands.h"
#include "oci/error.h"
#include "oci/store.h"
#include "oci/supply_chain.h"

namespace kiln::builder {

void AddSbomCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("sbom", "Print the SBOM of an image in the local store");
  auto name = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("spdx-json");
  cmd->add_option("IMAGE", *name, "Image in the local store")->required();
  cmd->add_option("--format", *format, "spdx-json (default) or cyclonedx-json")
      ->check(CLI::IsMember({"spdx-json", "cyclonedx-json", "spdx", "cyclonedx"}));
  cmd->callback([name, format] {
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    const auto desc = store.ResolveTag(NormalizeTag(*name));
    if (!desc) throw oci::Error("sbom: no image " + *name + " in the store " + store.root().string());
    oci::SbomDocOptions doc;
    std::cout << oci::GenerateSbom(store, *desc, oci::ParseSbomFormat(*format), doc, *name) << "\n";
  });
}

}  // namespace kiln::builder
