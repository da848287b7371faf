// `kiln push IMAGE [DEST]`: push a stored image (to DEST when given).
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/base_image.h"
#include "builder/commands.h"
#include "oci/error.h"
#include "oci/reference.h"
#include "oci/registry.h"
#include "oci/store.h"

namespace kiln::builder {

void AddPushCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("push", "Push an image to a registry");
  auto name = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image in the local store")->required();
  cmd->add_option("DEST", *dest, "Destination reference (default: IMAGE)");
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->callback([name, dest, insecure] {
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    auto desc = store.ResolveTag(NormalizeTag(*name));
    if (!desc) throw oci::Error("push: no image " + *name + " in the store " + store.root().string());
    oci::RegistryOptions ro;
    ro.insecure_http = *insecure;
    ro.tls_verify = !*insecure;
    ro.progress = [](const std::string& s) { std::cerr << s << "\n"; };
    oci::RegistryClient client(ro);
    oci::TransferStats stats;
    const auto ref = oci::Reference::Parse(dest->empty() ? *name : *dest);
    const auto d = client.Push(store, *desc, ref, &stats);
    std::cout << ref.str() << ": " << d.str() << " (" << stats.blobs_uploaded << " uploaded, "
              << stats.blobs_skipped << " already there)\n";
  });
}

}  // namespace kiln::builder
