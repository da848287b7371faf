// registries.conf as podman, buildah and skopeo read it
// (containers-registries.conf(5), version 2 TOML; the v1 tables too): which
// registry a short name means ([aliases], unqualified-search-registries),
// and where an image's bytes come from ([[registry]] prefix/location,
// insecure, blocked, [[registry.mirror]]). docker's --registry-mirror adds
// mirrors the same way.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "oci/image.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"

namespace kiln::oci {

struct RegistryMirror {
  std::string location;  // "mirror.example.com/cache", no scheme
  bool insecure = false;
};

struct RegistryRule {
  std::string prefix;    // "example.com/team", "*.example.com"; the location when none is given
  std::string location;  // where the images really are ("" = the prefix itself)
  bool insecure = false;
  bool blocked = false;
  std::vector<RegistryMirror> mirrors;  // tried in order before the location
  std::string pull_from_mirror = "all";  // "all", "digest-only", "tag-only"
  std::string origin;    // the file it came from, for messages
};

// One place to try for a pull, in order: mirrors first, then the registry.
struct PullSource {
  Reference ref;
  bool insecure = false;
  bool mirror = false;
};

class RegistriesConf {
 public:
  // Parses one file's text; throws Error naming `origin`, line and column.
  static RegistriesConf Parse(std::string_view toml, const std::string& origin);
  // The file the containers tools would read: $CONTAINERS_REGISTRIES_CONF,
  // else ~/.config/containers/registries.conf ($XDG_CONFIG_HOME), else
  // /etc/containers/registries.conf; none is an empty configuration.
  static RegistriesConf Load();
  static std::filesystem::path DefaultPath();

  // docker's --registry-mirror: "URL" mirrors docker.io (as dockerd's flag
  // does), "REGISTRY=URL" another registry. http:// marks it insecure.
  // Throws Error for an empty or malformed spec.
  void AddMirror(const std::string& spec);

  // A short name ("busybox", "team/app:1") qualified by [aliases], else by
  // the first unqualified-search-registries entry; a name with a registry,
  // or one with no rule for it, is returned unchanged (docker.io, as docker).
  std::string Qualify(std::string_view name) const;

  // Where to pull `ref` from, in order. Throws Error when registries.conf
  // blocks it.
  std::vector<PullSource> PullSources(const Reference& ref) const;
  // Where a push of `ref` goes: the registry (at its location, never a
  // mirror) with its insecure setting. Throws Error when blocked.
  PullSource PushTarget(const Reference& ref) const;

  const std::vector<RegistryRule>& rules() const { return rules_; }
  const std::vector<std::string>& search() const { return search_; }

 private:
  const RegistryRule* Match(const std::string& name) const;  // longest prefix
  std::vector<PullSource> Sources(const Reference& ref, const char* action, bool mirrors) const;
  std::vector<RegistryRule> rules_;
  std::vector<std::string> search_;
  std::map<std::string, std::string> aliases_;
};

// Pulls `ref` from its PullSources in order, moving on from a mirror that
// fails (`note` tells which source is used and why one was left); the error
// of the last source says what every source answered.
Descriptor PullVia(const RegistriesConf& conf, const Reference& ref, Store& store, const Platform& platform,
                   const RegistryOptions& opts, TransferStats* stats = nullptr,
                   const std::function<void(const std::string&)>& note = {});

}  // namespace kiln::oci
