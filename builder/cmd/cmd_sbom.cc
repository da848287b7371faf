// `kiln sbom IMAGE [--format spdx-json|cyclonedx-json]`: the SBOM of an
// image. An image in the local store: the SBOM attached by `kiln build
// --sbom` when there is one, else generated from its layers. Otherwise (or
// with --remote) IMAGE is a registry reference: the SBOM attached there as a
// referrer, else the image is pulled (blobs only, untagged) and the SBOM
// generated from it. stderr says which.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/error.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/registry/remote_referrers.h"
#include "oci/store/store.h"
#include "oci/supply/supply_chain.h"

namespace kiln::builder {

namespace {

// The document of an attached artifact in the store.
std::string LocalDocument(const oci::Store& store, const oci::Descriptor& artifact) {
  const oci::Manifest m = oci::ParseManifest(store.ReadBlob(artifact.digest, /*verify=*/true));
  if (m.layers.size() != 1)
    throw oci::Error("artifact " + artifact.digest.str() + ": expected one document layer, found " +
                     std::to_string(m.layers.size()));
  return store.ReadBlob(m.layers.front().digest, /*verify=*/true);
}

}  // namespace

void AddSbomCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("sbom", "Print the SBOM of an image (attached one first, else generated)");
  auto name = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("spdx-json");
  auto remote = std::make_shared<bool>(false);
  auto insecure = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image in the local store, else a registry reference")->required();
  cmd->add_option("--format", *format, "spdx-json (default) or cyclonedx-json")
      ->check(CLI::IsMember({"spdx-json", "cyclonedx-json", "spdx", "cyclonedx"}));
  cmd->add_flag("--remote", *remote, "Use the registry even when the image is in the local store");
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->callback([name, format, remote, insecure] {
    const oci::SbomFormat fmt = oci::ParseSbomFormat(*format);
    const std::string type = oci::SbomMediaType(fmt);
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    oci::SbomDocOptions doc;
    std::optional<oci::Descriptor> desc;
    if (!*remote) desc = store.ResolveTag(NormalizeTag(*name));
    if (desc) {
      if (auto a = oci::PickReferrer(oci::FindLocalReferrers(store, desc->digest), type)) {
        std::cerr << "kiln: " << type << " attached to " << desc->digest.str() << " (artifact " << a->digest.str()
                  << ", local store)\n";
        std::cout << LocalDocument(store, *a) << "\n";
        return;
      }
      std::cerr << "kiln: no " << type << " attached to " << *name << " in the local store; generated from its layers\n";
      std::cout << oci::GenerateSbom(store, *desc, fmt, doc, *name) << "\n";
      return;
    }
    oci::RegistryOptions ro;
    ro.AllowInsecure(*insecure);
    oci::RegistryClient client(ro);
    const oci::Reference ref = oci::Reference::Parse(*name);
    oci::Descriptor m;
    try {
      m = client.ResolveManifest(ref, oci::Platform::Host());
    } catch (const oci::Error& e) {
      throw oci::Error("sbom: " + *name + " is not in the local store " + store.root().string() +
                       ", and the registry: " + e.what());
    }
    if (auto a = oci::PickReferrer(client.Referrers(ref, m.digest), type)) {
      std::cerr << "kiln: " << type << " attached to " << ref.registry << "/" << ref.repository << "@"
                << m.digest.str() << " (artifact " << a->digest.str() << ", registry)\n";
      std::cout << oci::FetchArtifactDocument(client, store, ref, *a, m.digest) << "\n";
      return;
    }
    std::cerr << "kiln: no " << type << " attached to " << ref.registry << "/" << ref.repository << "@"
              << m.digest.str() << " in the registry; pulling the image and generating it from its layers\n";
    oci::Reference by_digest = ref;
    by_digest.digest = m.digest.str();
    const oci::Descriptor pulled = client.Pull(by_digest, store, oci::Platform::Host());
    std::cout << oci::GenerateSbom(store, pulled, fmt, doc, *name) << "\n";
  });
}

}  // namespace kiln::builder
