// `kiln pull IMAGE`: fetch into the local store and tag it.
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"

namespace kiln::builder {

void AddPullCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("pull", "Pull an image into the local store");
  auto name = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image reference")->required();
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->add_flag("-q,--quiet", *quiet, "Print only the digest");
  cmd->callback([name, insecure, quiet] {
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    const auto ref = oci::Reference::Parse(*name);
    oci::RegistryOptions ro;
    ro.AllowInsecure(*insecure);
    if (!*quiet) ro.progress = [](const std::string& s) { std::cerr << s << "\n"; };
    oci::RegistryClient client(ro);
    oci::TransferStats stats;
    const auto d = client.Pull(ref, store, oci::Platform::Host(), &stats);
    if (ref.digest.empty()) store.SetTag(NormalizeTag(*name), d);
    if (*quiet) std::cout << d.digest.str() << "\n";
    else std::cout << ref.familiar() << ": " << d.digest.str() << " (" << stats.blobs_downloaded << " blobs downloaded)\n";
  });
}

}  // namespace kiln::builder
