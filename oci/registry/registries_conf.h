// registries.conf as podman, buildah and skopeo read it
// (containers-registries.conf(5), version 2 TOML; the v1 tables too; the
// registries.conf.d/*.conf drop-ins of containers-registries.conf.d(5)):
// which registry a short name means ([aliases], unqualified-search-registries,
// short-name-mode),
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

// short-name-mode as containers-registries.conf(5) defines it, for a tool
// that never prompts: kUnset behaves as permissive (the containers default).
enum class ShortNameMode { kUnset, kEnforcing, kPermissive, kDisabled };

class RegistriesConf {
 public:
  // Parses one file's text; throws Error naming `origin`, line and column.
  // A drop-in must be version 2 (as the containers tools require).
  static RegistriesConf Parse(std::string_view toml, const std::string& origin, bool drop_in = false);
  // What the containers tools would read: the main file
  // ($CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf
  // ($XDG_CONFIG_HOME), else /etc/containers/registries.conf; none is an
  // empty configuration), then the *.conf files of DropInDirs() in
  // alpha-numerical order, each merged over what came before.
  static RegistriesConf Load();
  static std::filesystem::path DefaultPath();
  // /etc/containers/registries.conf.d then the user's
  // ~/.config/containers/registries.conf.d; only the user's when the main
  // file is the user's (as containers/image decides).
  static std::vector<std::filesystem::path> DropInDirs();

  // containers-registries.conf.d(5): a [[registry]] replaces the one with the
  // same prefix, unqualified-search-registries and short-name-mode replace
  // when the drop-in sets them, [aliases] merge (an empty value removes one).
  void Merge(const RegistriesConf& drop_in);

  // docker's --registry-mirror: "URL" mirrors docker.io (as dockerd's flag
  // does), "REGISTRY=URL" another registry. http:// marks it insecure.
  // Throws Error for an empty or malformed spec.
  void AddMirror(const std::string& spec);

  // The names a short name ("busybox", "team/app:1") may mean, in the order
  // to try them: its [aliases] entry alone, else one per
  // unqualified-search-registries entry. More than one is an error under
  // short-name-mode = "enforcing" (kiln never prompts, as the containers
  // tools without a terminal); permissive and disabled try them all. A name
  // with a registry, or a short name with no alias and no search registries,
  // is returned unchanged: docker's meaning (docker.io), where the containers
  // tools would refuse it. Throws Error.
  std::vector<std::string> Candidates(std::string_view name) const;
  // The first of Candidates(name).
  std::string Qualify(std::string_view name) const;

  // Where to pull `ref` from, in order. Throws Error when registries.conf
  // blocks it.
  std::vector<PullSource> PullSources(const Reference& ref) const;
  // Where a push of `ref` goes: the registry (at its location, never a
  // mirror) with its insecure setting. Throws Error when blocked.
  PullSource PushTarget(const Reference& ref) const;

  const std::vector<RegistryRule>& rules() const { return rules_; }
  const std::vector<std::string>& search() const { return search_; }
  ShortNameMode short_name_mode() const { return mode_; }

 private:
  const RegistryRule* Match(const std::string& name) const;  // longest prefix
  std::vector<PullSource> Sources(const Reference& ref, const char* action, bool mirrors) const;
  std::vector<RegistryRule> rules_;
  std::vector<std::string> search_;
  bool search_set_ = false;      // the file has unqualified-search-registries (even empty)
  std::string search_origin_;    // the file it came from, for messages
  std::map<std::string, std::string> aliases_;  // "" = removed by a drop-in
  ShortNameMode mode_ = ShortNameMode::kUnset;
  std::string mode_origin_;
};

// Pulls `ref` from its PullSources in order, moving on from a mirror that
// fails (`note` tells which source is used and why one was left); the error
// of the last source says what every source answered.
Descriptor PullVia(const RegistriesConf& conf, const Reference& ref, Store& store, const Platform& platform,
                   const RegistryOptions& opts, TransferStats* stats = nullptr,
                   const std::function<void(const std::string&)>& note = {});

// Pulls the first of `candidates` (RegistriesConf::Candidates) that a
// registry serves, each through PullVia; returns it with what was pulled.
// The error names what every candidate answered.
std::pair<Reference, Descriptor> PullFirst(const RegistriesConf& conf, const std::vector<std::string>& candidates,
                                           Store& store, const Platform& platform, const RegistryOptions& opts,
                                           TransferStats* stats = nullptr,
                                           const std::function<void(const std::string&)>& note = {});

}  // namespace kiln::oci
