// `kiln push IMAGE [DEST]`: push a stored image (to DEST when given), with
// the SBOM/provenance referrers the store holds for it.
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "builder/push.h"
#include "oci/error.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"
#include "oci/registry/registries_conf.h"

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
    // registries.conf: blocked refuses, insecure allows, location redirects.
    const oci::PullSource target =
        oci::RegistriesConf::Load().PushTarget(oci::Reference::Parse(dest->empty() ? *name : *dest));
    oci::RegistryOptions ro;
    ro.AllowInsecure(*insecure || target.insecure);
    ro.progress = [](const std::string& s) { std::cerr << s << "\n"; };
    oci::RegistryClient client(ro);
    const auto& ref = target.ref;
    const PushSummary s =
        PushWithReferrers(client, store, *desc, ref, [](const std::string& line) { std::cerr << line << "\n"; });
    std::cout << ref.str() << ": " << s.digest.str() << " (" << s.stats.blobs_uploaded << " uploaded, "
              << s.stats.blobs_skipped << " already there";
    if (s.referrers > 0) std::cout << ", " << s.referrers << " referrers";
    std::cout << ")\n";
  });
}

}  // namespace kiln::builder
