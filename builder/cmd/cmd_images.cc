// `kiln images`: the store's tags with digest and size.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/builder.h"
#include "builder/cmd/commands.h"
#include "oci/image.h"
#include "oci/store/store.h"

namespace kiln::builder {

void AddImagesCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("images", "List images in the local store");
  auto quiet = std::make_shared<bool>(false);
  auto json_out = std::make_shared<bool>(false);
  cmd->add_flag("-q,--quiet", *quiet, "Only names");
  cmd->add_flag("--json", *json_out, "JSON array of {name, digest, size}");
  cmd->callback([quiet, json_out] {
    oci::Store store(oci::Store::DefaultRoot());
    auto tags = store.ListTags();
    nlohmann::json arr = nlohmann::json::array();
    if (!*quiet && !*json_out) std::printf("%-50s %-19s %s\n", "IMAGE", "DIGEST", "SIZE");
    for (const auto& [name, desc] : tags) {
      int64_t size = desc.size;
      try {
        auto m = oci::ParseManifest(store.ReadBlob(desc.digest));
        size += m.config.size;
        for (const auto& l : m.layers) size += l.size;
      } catch (const std::exception&) {
        // An index or a damaged manifest: show the descriptor size only.
      }
      if (*quiet) std::printf("%s\n", name.c_str());
      else if (*json_out) arr.push_back({{"name", name}, {"digest", desc.digest.str()}, {"size", size}});
      else std::printf("%-50s %-19s %s\n", name.c_str(), desc.digest.hex.substr(0, 12).c_str(), HumanSize(size).c_str());
    }
    if (*json_out) std::cout << arr.dump(2) << "\n";
  });
}

}  // namespace kiln::builder
