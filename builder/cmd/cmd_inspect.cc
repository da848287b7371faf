// `kiln inspect IMAGE`: manifest and config of a stored image as JSON; of a
// multi-platform index, the index and its platforms (`--remote`: as the
// registry serves it).
// `kiln inspect IMAGE --referrers`: the artifacts attached to it (SBOMs,
// provenance): from the local store when IMAGE is there, else (or with
// --remote) from its registry (referrers API, or the sha256-<hex> tag).
#include <CLI/CLI.hpp>

#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/registry/remote_referrers.h"
#include "oci/store/store.h"

namespace kiln::builder {

namespace {

nlohmann::json ReferrersJson(const oci::Index& index) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : index.manifests) {
    nlohmann::json e = {{"artifactType", d.artifact_type},
                        {"digest", d.digest.str()},
                        {"mediaType", d.media_type},
                        {"size", d.size},
                        {"annotations", nlohmann::json::object()}};
    for (const auto& [k, v] : d.annotations) e["annotations"][k] = v;
    list.push_back(std::move(e));
  }
  return list;
}

// An index's entries with their platforms; `store` says which are local.
void IndexJson(const oci::Index& index, const oci::Store* store, nlohmann::json& out) {
  out["platforms"] = nlohmann::json::array();
  out["manifests"] = nlohmann::json::array();
  for (const auto& d : index.manifests) {
    nlohmann::json e = {{"digest", d.digest.str()}, {"mediaType", d.media_type}, {"size", d.size}};
    if (d.platform) {
      e["platform"] = d.platform->str();
      if (d.platform->os != "unknown") out["platforms"].push_back(d.platform->str());
    }
    if (store) e["inStore"] = store->HasBlob(d.digest);
    out["manifests"].push_back(std::move(e));
  }
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show an image's manifest and config, or its referrers");
  auto name = std::make_shared<std::string>();
  auto referrers = std::make_shared<bool>(false);
  auto remote = std::make_shared<bool>(false);
  auto insecure = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image name or manifest digest")->required();
  cmd->add_flag("--referrers", *referrers,
                "List the artifacts (SBOMs, provenance) attached to the image: from the local store when the image "
                "is there, else from its registry");
  cmd->add_flag("--remote", *remote,
                "Ask IMAGE's registry even when the image is in the local store (its manifest, or an index's "
                "platforms; with --referrers, its referrers)");
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->callback([name, referrers, remote, insecure] {
    oci::Store store(oci::Store::DefaultRoot());
    std::optional<oci::Descriptor> desc;
    if (name->rfind("sha256:", 0) == 0) {
      for (const auto& [n, d] : store.ListTags())
        if (d.digest.str() == *name) desc = d;
      if (!desc && store.HasBlob(oci::Digest::Parse(*name))) {
        desc = oci::Descriptor{};
        desc->digest = oci::Digest::Parse(*name);
      }
    } else if (!*remote) {
      desc = store.ResolveTag(NormalizeTag(*name));
    }
    nlohmann::json out;
    out["name"] = *name;
    if (*referrers) {
      if (desc) {
        out["digest"] = desc->digest.str();
        out["source"] = "local store " + store.root().string();
        out["referrers"] = ReferrersJson(oci::FindLocalReferrers(store, desc->digest));
      } else {
        if (name->rfind("sha256:", 0) == 0)
          throw oci::Error("inspect: no image " + *name + " in the store " + store.root().string());
        oci::RegistryOptions ro;
        ro.AllowInsecure(*insecure);
        oci::RegistryClient client(ro);
        const oci::Reference ref = oci::Reference::Parse(*name);
        const oci::Descriptor m = client.ResolveManifest(ref, oci::Platform::Host());
        out["digest"] = m.digest.str();
        out["source"] = "registry " + ref.registry + "/" + ref.repository;
        out["referrers"] = ReferrersJson(client.Referrers(ref, m.digest));
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    if (*remote) {
      if (name->rfind("sha256:", 0) == 0) throw oci::Error("inspect --remote: name a registry reference, not " + *name);
      oci::RegistryOptions ro;
      ro.AllowInsecure(*insecure);
      oci::RegistryClient client(ro);
      const oci::Reference ref = oci::Reference::Parse(*name);
      oci::Descriptor top;
      const std::string body = client.GetManifest(ref, &top);
      out["digest"] = top.digest.str();
      out["mediaType"] = top.media_type;
      out["source"] = "registry " + ref.registry + "/" + ref.repository;
      if (oci::media::IsIndexMediaType(top.media_type)) {
        out["index"] = nlohmann::json::parse(body);
        IndexJson(oci::ParseIndex(body), nullptr, out);
      } else {
        out["manifest"] = nlohmann::json::parse(body);
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    if (!desc)
      throw oci::Error("inspect: no image " + *name + " in the store " + store.root().string() +
                       " (--remote asks its registry)");
    if (oci::IsIndex(store, *desc)) {
      // A multi-platform image: the index and its platforms; each platform's
      // manifest and config by `kiln inspect DIGEST`.
      const std::string body = store.ReadBlob(desc->digest);
      out["digest"] = desc->digest.str();
      out["mediaType"] = oci::ParseIndex(body).media_type;
      out["index"] = nlohmann::json::parse(body);
      IndexJson(oci::ParseIndex(body), &store, out);
      std::cout << out.dump(2) << "\n";
      return;
    }
    const std::string manifest = store.ReadBlob(desc->digest);
    const auto m = oci::ParseManifest(manifest);
    out["digest"] = desc->digest.str();
    out["manifest"] = nlohmann::json::parse(manifest);
    out["config"] = nlohmann::json::parse(store.ReadBlob(m.config.digest));
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace kiln::builder
