// `kiln push IMAGE [DEST]`: push a stored image or multi-platform index (to
// DEST when given), with the SBOM/provenance referrers the store holds for
// it. DEST may also be a file transport, as podman push takes them:
// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE (TAG defaults
// to IMAGE's tag).
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "builder/push.h"
#include "oci/error.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/layout.h"
#include "oci/store/store.h"
#include "oci/registry/registries_conf.h"

namespace kiln::builder {

namespace {

// "oci:DIR:TAG" -> {DIR, TAG}; a colon followed by a '/' is part of the path.
std::pair<std::string, std::string> PathAndTag(const std::string& rest) {
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find('/', colon) != std::string::npos) return {rest, ""};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

// Writes the stored image (or index) to a file transport; false when `dest`
// names none.
bool ExportToTransport(const oci::Store& store, const oci::Descriptor& desc, const std::string& image,
                       const std::string& dest) {
  const auto colon = dest.find(':');
  if (colon == std::string::npos) return false;
  const std::string transport = dest.substr(0, colon);
  if (transport != "oci" && transport != "oci-archive" && transport != "docker-archive") return false;
  // docker-archive: the whole rest is the file; the archive names IMAGE.
  auto [path, tag] = transport == "docker-archive" ? std::pair<std::string, std::string>{dest.substr(colon + 1), ""}
                                                   : PathAndTag(dest.substr(colon + 1));
  if (path.empty()) throw oci::Error("push " + image + " " + dest + ": no path after " + transport + ":");
  if (tag.empty()) {
    tag = oci::Reference::Parse(image).tag;
    if (tag.empty()) tag = "latest";
  }
  if (transport == "oci") oci::ExportOciLayout(store, desc, path, tag);
  else if (transport == "oci-archive") oci::ExportOciArchive(store, desc, path, tag);
  else oci::ExportDockerArchive(store, desc, path, {NormalizeTag(image)});
  std::cout << dest << ": " << desc.digest.str() << "\n";
  return true;
}

}  // namespace

void AddPushCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("push", "Push an image to a registry");
  auto name = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image in the local store")->required();
  cmd->add_option("DEST", *dest,
                  "Destination reference (default: IMAGE), or oci:DIR[:TAG], oci-archive:FILE[:TAG], "
                  "docker-archive:FILE");
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->callback([name, dest, insecure] {
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    auto desc = store.ResolveTag(NormalizeTag(*name));
    if (!desc) throw oci::Error("push: no image " + *name + " in the store " + store.root().string());
    if (ExportToTransport(store, *desc, *name, *dest)) return;
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
