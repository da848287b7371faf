// `kiln inspect IMAGE`: manifest and config of a stored image as JSON.
#include <CLI/CLI.hpp>

#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/base_image.h"
#include "builder/commands.h"
#include "oci/error.h"
#include "oci/store.h"

namespace kiln::builder {

void AddInspectCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show an image's manifest and config");
  auto name = std::make_shared<std::string>();
  cmd->add_option("IMAGE", *name, "Image name or manifest digest")->required();
  cmd->callback([name] {
    oci::Store store(oci::Store::DefaultRoot());
    std::optional<oci::Descriptor> desc;
    if (name->rfind("sha256:", 0) == 0) {
      for (const auto& [n, d] : store.ListTags())
        if (d.digest.str() == *name) desc = d;
      if (!desc && store.HasBlob(oci::Digest::Parse(*name))) {
        desc = oci::Descriptor{};
        desc->digest = oci::Digest::Parse(*name);
      }
    } else {
      desc = store.ResolveTag(NormalizeTag(*name));
    }
    if (!desc) throw oci::Error("inspect: no image " + *name + " in the store " + store.root().string());
    const std::string manifest = store.ReadBlob(desc->digest);
    const auto m = oci::ParseManifest(manifest);
    nlohmann::json out;
    out["name"] = *name;
    out["digest"] = desc->digest.str();
    out["manifest"] = nlohmann::json::parse(manifest);
    out["config"] = nlohmann::json::parse(store.ReadBlob(m.config.digest));
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace kiln::builder
