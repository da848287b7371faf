// `kiln sbom IMAGE [--format spdx-json|cyclonedx-json]`: the SBOM of an
// image. An image in the local store: the SBOM attached by `kiln build
// --sbom` when there is one, else generated from its layers. Otherwise (or
// with --remote) IMAGE is a registry reference: the SBOM attached there as a
// referrer, else the image is pulled (blobs only, untagged) and the SBOM
// generated from it. stderr says which.
//
// A multi-platform image (an index): --platform picks one platform's SBOM.
// Without it, a local index gives every platform's SBOM, in the index's
// order, one JSON document after another (`jq -s` reads them as an array),
// stderr naming each one's platform; a registry index gives the host's.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/platform.h"
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
  auto platform = std::make_shared<std::string>();
  cmd->add_option("IMAGE", *name, "Image in the local store, else a registry reference")->required();
  cmd->add_option("--format", *format, "spdx-json (default) or cyclonedx-json")
      ->check(CLI::IsMember({"spdx-json", "cyclonedx-json", "spdx", "cyclonedx"}));
  cmd->add_option("--platform", *platform,
                  "Of a multi-platform image, this platform's SBOM only (os/arch[/variant]); "
                  "default: every platform's (local), the host's (registry)");
  cmd->add_flag("--remote", *remote, "Use the registry even when the image is in the local store");
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->callback([name, format, remote, insecure, platform] {
    const oci::SbomFormat fmt = oci::ParseSbomFormat(*format);
    const std::string type = oci::SbomMediaType(fmt);
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    oci::SbomDocOptions doc;
    std::optional<oci::Descriptor> desc;
    if (!*remote) desc = store.ResolveTag(NormalizeTag(*name));
    if (desc) {
      // An index: the platform asked for, else each platform's manifest
      // (attestation entries, platform os "unknown", are not images).
      std::vector<oci::Descriptor> images;
      if (!oci::IsIndex(store, *desc)) {
        images.push_back(*desc);
      } else if (!platform->empty()) {
        images.push_back(oci::ResolveImage(store, *desc, oci::Platform::Parse(*platform), *name));
      } else {
        for (const auto& d : oci::IndexManifests(store, *desc))
          if (!d.platform || d.platform->os != "unknown") images.push_back(d);
        if (images.empty()) throw oci::Error("sbom: " + *name + " is an index with no platform image in it");
        std::cerr << "kiln: " << *name << " is a multi-platform index: one " << type << " document per platform ("
                  << images.size() << "), in its order; --platform picks one\n";
      }
      for (const auto& img : images) {
        const std::string which = (img.platform ? " [" + img.platform->str() + "]" : std::string());
        if (auto a = oci::PickReferrer(oci::FindLocalReferrers(store, img.digest), type)) {
          std::cerr << "kiln: " << type << " attached to " << img.digest.str() << which << " (artifact "
                    << a->digest.str() << ", local store)\n";
          std::cout << LocalDocument(store, *a) << "\n";
          continue;
        }
        std::cerr << "kiln: no " << type << " attached to " << *name << which << " (" << img.digest.str()
                  << ") in the local store; generated from its layers\n";
        std::cout << oci::GenerateSbom(store, img, fmt, doc, *name) << "\n";
      }
      return;
    }
    const oci::Platform want = platform->empty() ? oci::Platform::Host() : oci::Platform::Parse(*platform);
    oci::RegistryOptions ro;
    ro.AllowInsecure(*insecure);
    oci::RegistryClient client(ro);
    const oci::Reference ref = oci::Reference::Parse(*name);
    oci::Descriptor m;
    try {
      m = client.ResolveManifest(ref, want);
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
    const oci::Descriptor pulled = client.Pull(by_digest, store, want);
    std::cout << oci::GenerateSbom(store, pulled, fmt, doc, *name) << "\n";
  });
}

}  // namespace kiln::builder
