// `kiln images`: the store's tags with digest and size. Signatures and
// referrers indexes (SBOMs, provenance) are tags too ("repo:sha256-HEX.sig",
// "repo:sha256-HEX"); they are listed under the image they belong to, not
// as images, unless --all.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "builder/builder.h"
#include "builder/cmd/commands.h"
#include "oci/image.h"
#include "oci/image_index.h"
#include "oci/store/store.h"

namespace kiln::builder {

namespace {

struct Attached {
  std::string name;  // the tag
  std::string kind;  // "signature", or the referrers' artifact types
  oci::Descriptor desc;
};

// The subject digest ("sha256:HEX") of an artifact tag, or "" for an image tag.
std::string ArtifactSubject(const std::string& name, bool* signature) {
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "";
  std::string tag = name.substr(colon + 1);
  *signature = tag.size() > 4 && tag.compare(tag.size() - 4, 4, ".sig") == 0;
  if (*signature) tag.resize(tag.size() - 4);
  if (tag.size() != 7 + 64 || tag.rfind("sha256-", 0) != 0) return "";
  if (tag.find_first_not_of("0123456789abcdef", 7) != std::string::npos) return "";
  return "sha256:" + tag.substr(7);
}

std::string KindOf(const oci::Store& store, const oci::Descriptor& desc, bool signature) {
  if (signature) return "signature";
  try {
    std::set<std::string> types;
    for (const auto& m : oci::ParseIndex(store.ReadBlob(desc.digest)).manifests)
      types.insert(m.artifact_type.empty() ? "artifact" : m.artifact_type);
    std::string out;
    for (const auto& t : types) out += (out.empty() ? "" : ", ") + t;
    return "referrers: " + out;
  } catch (const std::exception&) {
    return "referrers";
  }
}

int64_t ImageSize(const oci::Store& store, const oci::Descriptor& desc) {
  int64_t size = desc.size;
  try {
    if (oci::IsIndex(store, desc)) {
      // A multi-platform image: every platform's manifest the store holds.
      for (const auto& m : oci::IndexManifests(store, desc))
        if (store.HasBlob(m.digest)) size += ImageSize(store, m);
      return size;
    }
    auto m = oci::ParseManifest(store.ReadBlob(desc.digest));
    size += m.config.size;
    for (const auto& l : m.layers) size += l.size;
  } catch (const std::exception&) {
    // An index or a damaged manifest: show the descriptor size only.
  }
  return size;
}

// The platforms of an index ("linux/amd64, linux/arm64"), empty for an image.
std::vector<std::string> PlatformsOf(const oci::Store& store, const oci::Descriptor& desc) {
  std::vector<std::string> out;
  try {
    if (!oci::IsIndex(store, desc)) return out;
    for (const auto& m : oci::IndexManifests(store, desc))
      if (m.platform && m.platform->os != "unknown") out.push_back(m.platform->str());
  } catch (const std::exception&) {
    // A damaged index: shown without platforms, as a damaged manifest shows without its size.
  }
  return out;
}

}  // namespace

void AddImagesCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("images", "List images in the local store");
  auto quiet = std::make_shared<bool>(false);
  auto json_out = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  cmd->add_flag("-q,--quiet", *quiet, "Only names");
  cmd->add_flag("--json", *json_out,
                "JSON array of {name, digest, size, platforms (of a multi-platform index), attached: [{name, digest, kind}]}");
  cmd->add_flag("-a,--all", *all, "Also list signatures and referrers (SBOM, provenance) as entries of their own");
  cmd->callback([quiet, json_out, all] {
    oci::Store store(oci::Store::DefaultRoot());
    std::vector<std::pair<std::string, oci::Descriptor>> images;
    std::map<std::string, std::vector<Attached>> attached;  // by subject digest
    for (const auto& [name, desc] : store.ListTags()) {
      bool signature = false;
      const std::string subject = ArtifactSubject(name, &signature);
      if (subject.empty()) images.emplace_back(name, desc);
      else attached[subject].push_back({name, KindOf(store, desc, signature), desc});
    }
    nlohmann::json arr = nlohmann::json::array();
    if (!*quiet && !*json_out) std::printf("%-50s %-19s %s\n", "IMAGE", "DIGEST", "SIZE");
    auto row = [&](const std::string& name, const oci::Descriptor& desc, const std::vector<Attached>* under) {
      const int64_t size = ImageSize(store, desc);
      const std::vector<std::string> platforms = under ? PlatformsOf(store, desc) : std::vector<std::string>{};
      if (*quiet) {
        std::printf("%s\n", name.c_str());
      } else if (*json_out) {
        nlohmann::json j = {{"name", name}, {"digest", desc.digest.str()}, {"size", size}};
        if (!platforms.empty()) j["platforms"] = platforms;
        if (under) {
          j["attached"] = nlohmann::json::array();
          for (const auto& a : *under)
            j["attached"].push_back({{"name", a.name}, {"digest", a.desc.digest.str()}, {"kind", a.kind}});
        }
        arr.push_back(std::move(j));
      } else {
        std::printf("%-50s %-19s %s\n", name.c_str(), desc.digest.hex.substr(0, 12).c_str(), HumanSize(size).c_str());
        if (!platforms.empty()) {
          std::string list;
          for (const auto& p : platforms) list += (list.empty() ? "" : ", ") + p;
          std::printf("  platforms: %s\n", list.c_str());
        }
        if (under)
          for (const auto& a : *under) std::printf("  + %s\n", a.kind.c_str());
      }
    };
    static const std::vector<Attached> kNone;
    for (const auto& [name, desc] : images) {
      auto it = attached.find(desc.digest.str());
      row(name, desc, it == attached.end() || *quiet ? &kNone : &it->second);
    }
    if (*all)
      for (const auto& [subject, list] : attached)
        for (const auto& a : list) row(a.name, a.desc, nullptr);
    if (*json_out) std::cout << arr.dump(2) << "\n";
  });
}

}  // namespace kiln::builder
