#include "oci/registry/registries_conf.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "oci/error.h"

namespace kiln::oci {
namespace fs = std::filesystem;

namespace {

// "docker.io/library/busybox" for a reference (no tag or digest).
std::string RepoName(const Reference& ref) { return ref.registry + "/" + ref.repository; }

// Does `prefix` cover `name` at a path boundary? "*.example.com" covers any
// subdomain's registry, as in containers-registries.conf(5).
bool PrefixCovers(const std::string& prefix, const std::string& name) {
  if (prefix.rfind("*.", 0) == 0) {
    const std::string host = name.substr(0, name.find('/'));
    const std::string suffix = prefix.substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  if (name.rfind(prefix, 0) != 0) return false;
  return name.size() == prefix.size() || name[prefix.size()] == '/' || prefix.back() == '/';
}

// A mirror or location as written, scheme removed; http:// means insecure.
std::string StripScheme(std::string s, bool* insecure) {
  if (s.rfind("http://", 0) == 0) {
    *insecure = true;
    s = s.substr(7);
  } else if (s.rfind("https://", 0) == 0) {
    s = s.substr(8);
  }
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool IsQualified(std::string_view name) {
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view first = name.substr(0, slash);
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost";
}

std::string Where(const std::string& origin, const toml::node& n) {
  const auto& src = n.source();
  return origin + ":" + std::to_string(src.begin.line);
}

std::string RequireString(const toml::node& n, const std::string& origin, const std::string& key) {
  auto v = n.value<std::string>();
  if (!v) throw Error(Where(origin, n) + ": registries.conf: " + key + " must be a string");
  return *v;
}

bool RequireBool(const toml::node& n, const std::string& origin, const std::string& key) {
  auto v = n.value<bool>();
  if (!v) throw Error(Where(origin, n) + ": registries.conf: " + key + " must be true or false");
  return *v;
}

std::vector<std::string> StringList(const toml::node& n, const std::string& origin, const std::string& key) {
  const toml::array* arr = n.as_array();
  if (!arr) throw Error(Where(origin, n) + ": registries.conf: " + key + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& el : *arr) out.push_back(RequireString(el, origin, key));
  return out;
}

}  // namespace

RegistriesConf RegistriesConf::Parse(std::string_view text, const std::string& origin, bool drop_in) {
  toml::table top;
  try {
    top = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw Error(origin + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                ": registries.conf is not valid TOML: " + std::string(e.description()));
  }
  RegistriesConf conf;
  for (const auto& [key, node] : top) {
    const std::string k(key.str());
    if (k == "unqualified-search-registries") {
      conf.search_ = StringList(node, origin, k);
      conf.search_set_ = true;
      conf.search_origin_ = origin;
    } else if (k == "short-name-mode") {
      const std::string mode = RequireString(node, origin, k);
      if (mode == "enforcing") conf.mode_ = ShortNameMode::kEnforcing;
      else if (mode == "permissive") conf.mode_ = ShortNameMode::kPermissive;
      else if (mode == "disabled") conf.mode_ = ShortNameMode::kDisabled;
      else
        throw Error(Where(origin, node) + ": registries.conf: short-name-mode must be enforcing, permissive or disabled, not " +
                    mode);
      conf.mode_origin_ = origin;
    } else if (k == "aliases") {
      const toml::table* t = node.as_table();
      if (!t) throw Error(Where(origin, node) + ": registries.conf: [aliases] must be a table");
      for (const auto& [name, value] : *t) conf.aliases_[std::string(name.str())] = RequireString(value, origin, "aliases");
    } else if (k == "registry") {
      const toml::array* arr = node.as_array();
      if (!arr) throw Error(Where(origin, node) + ": registries.conf: registry must be [[registry]] tables");
      for (const auto& el : *arr) {
        const toml::table* t = el.as_table();
        if (!t) throw Error(Where(origin, el) + ": registries.conf: registry must be [[registry]] tables");
        RegistryRule rule;
        rule.origin = origin;
        for (const auto& [rk, rv] : *t) {
          const std::string rkey(rk.str());
          if (rkey == "prefix") rule.prefix = RequireString(rv, origin, rkey);
          else if (rkey == "location") rule.location = RequireString(rv, origin, rkey);
          else if (rkey == "insecure") rule.insecure = RequireBool(rv, origin, rkey);
          else if (rkey == "blocked") rule.blocked = RequireBool(rv, origin, rkey);
          else if (rkey == "mirror-by-digest-only") rule.pull_from_mirror = RequireBool(rv, origin, rkey) ? "digest-only" : "all";
          else if (rkey == "pull-from-mirror") rule.pull_from_mirror = RequireString(rv, origin, rkey);
          else if (rkey == "mirror") {
            const toml::array* mirrors = rv.as_array();
            if (!mirrors) throw Error(Where(origin, rv) + ": registries.conf: mirror must be [[registry.mirror]] tables");
            for (const auto& m : *mirrors) {
              const toml::table* mt = m.as_table();
              if (!mt) throw Error(Where(origin, m) + ": registries.conf: mirror must be [[registry.mirror]] tables");
              RegistryMirror mirror;
              if (const toml::node* loc = mt->get("location")) mirror.location = RequireString(*loc, origin, "mirror location");
              if (const toml::node* ins = mt->get("insecure")) mirror.insecure = RequireBool(*ins, origin, "mirror insecure");
              if (mirror.location.empty())
                throw Error(Where(origin, m) + ": registries.conf: a [[registry.mirror]] needs a location");
              mirror.location = StripScheme(mirror.location, &mirror.insecure);
              rule.mirrors.push_back(std::move(mirror));
            }
          }
          // Other keys (short-name-mode, credential-helpers...) do not change where bytes come from.
        }
        if (rule.prefix.empty()) rule.prefix = rule.location;
        if (rule.prefix.empty())
          throw Error(Where(origin, el) + ": registries.conf: a [[registry]] needs a prefix or a location");
        if (rule.pull_from_mirror != "all" && rule.pull_from_mirror != "digest-only" && rule.pull_from_mirror != "tag-only")
          throw Error(Where(origin, el) + ": registries.conf: pull-from-mirror must be all, digest-only or tag-only, not " +
                      rule.pull_from_mirror);
        conf.rules_.push_back(std::move(rule));
      }
    } else if (k == "registries") {
      // Version 1: [registries.search], [registries.insecure], [registries.block].
      if (drop_in)
        throw Error(Where(origin, node) + ": registries.conf.d: a drop-in must use version 2 (unqualified-search-registries, "
                    "[[registry]]), not the version 1 [registries.*] tables");
      const toml::table* t = node.as_table();
      if (!t) continue;
      auto list = [&](const char* table) -> std::vector<std::string> {
        const toml::node* n = t->at_path(std::string(table) + ".registries").node();
        return n ? StringList(*n, origin, std::string("registries.") + table) : std::vector<std::string>{};
      };
      for (const auto& r : list("search")) conf.search_.push_back(r);
      if (!conf.search_.empty()) {
        conf.search_set_ = true;
        conf.search_origin_ = origin;
      }
      for (const auto& r : list("insecure")) conf.rules_.push_back({r, "", true, false, {}, "all", origin});
      for (const auto& r : list("block")) conf.rules_.push_back({r, "", false, true, {}, "all", origin});
    }
  }
  return conf;
}

namespace {

const char* ConfFromEnv() {
  const char* e = std::getenv("CONTAINERS_REGISTRIES_CONF");
  return e && *e ? e : nullptr;
}

// ~/.config/containers ($XDG_CONFIG_HOME/containers); empty without a home.
fs::path UserConfigDir() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return fs::path(x) / "containers";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".config/containers";
  return {};
}

}  // namespace

fs::path RegistriesConf::DefaultPath() {
  if (const char* e = ConfFromEnv()) return e;
  const fs::path dir = UserConfigDir();
  const fs::path user = dir.empty() ? fs::path() : dir / "registries.conf";
  std::error_code ec;
  if (!user.empty() && fs::exists(user, ec)) return user;
  return "/etc/containers/registries.conf";
}

namespace {

std::string ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<fs::path> RegistriesConf::DropInDirs() {
  const fs::path user = UserConfigDir();
  std::vector<fs::path> dirs;
  const bool user_main = !ConfFromEnv() && !user.empty() && DefaultPath() == user / "registries.conf";
  if (!user_main) dirs.push_back("/etc/containers/registries.conf.d");
  if (!user.empty()) dirs.push_back(user / "registries.conf.d");
  return dirs;
}

RegistriesConf RegistriesConf::Load() {
  const fs::path path = DefaultPath();
  RegistriesConf conf;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
      throw Error("registries.conf " + path.string() + ": cannot be read (CONTAINERS_REGISTRIES_CONF, "
                  "~/.config/containers/registries.conf or /etc/containers/registries.conf)");
    conf = Parse(ReadWhole(path), path.string());
  } else if (ConfFromEnv()) {
    // Only an absent default file means "no configuration"; one named by the variable must exist.
    throw Error("registries.conf " + path.string() + " (CONTAINERS_REGISTRIES_CONF): no such file");
  }
  for (const fs::path& dir : DropInDirs()) {
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) continue;
      throw Error("registries.conf.d " + dir.string() + ": cannot be listed: " + ec.message());
    }
    for (const auto& entry : it) {
      std::error_code fec;
      if (entry.path().extension() == ".conf" && entry.is_regular_file(fec)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream probe(file, std::ios::binary);
      if (!probe) throw Error("registries.conf.d drop-in " + file.string() + ": cannot be read");
      conf.Merge(Parse(ReadWhole(file), file.string(), true));
    }
  }
  return conf;
}

void RegistriesConf::Merge(const RegistriesConf& drop_in) {
  for (const RegistryRule& rule : drop_in.rules_) {
    auto same = std::find_if(rules_.begin(), rules_.end(), [&](const RegistryRule& r) { return r.prefix == rule.prefix; });
    if (same != rules_.end()) *same = rule;
    else rules_.push_back(rule);
  }
  if (drop_in.search_set_) {
    search_ = drop_in.search_;
    search_set_ = true;
    search_origin_ = drop_in.search_origin_;
  }
  if (drop_in.mode_ != ShortNameMode::kUnset) {
    mode_ = drop_in.mode_;
    mode_origin_ = drop_in.mode_origin_;
  }
  for (const auto& [name, value] : drop_in.aliases_) aliases_[name] = value;
}

void RegistriesConf::AddMirror(const std::string& spec) {
  std::string registry = "docker.io", url = spec;
  if (auto eq = spec.find('='); eq != std::string::npos) {
    registry = spec.substr(0, eq);
    url = spec.substr(eq + 1);
  }
  bool insecure = false;
  std::string location = StripScheme(url, &insecure);
  if (registry.empty() || location.empty() || location.find_first_of(" \t") != std::string::npos)
    throw Error("--registry-mirror " + spec + ": expected MIRROR (a mirror of docker.io, e.g. https://mirror.example.com) "
                "or REGISTRY=MIRROR");
  for (auto& rule : rules_) {
    if (rule.prefix == registry) {
      rule.mirrors.insert(rule.mirrors.begin(), {location, insecure});
      return;
    }
  }
  RegistryRule rule;
  rule.prefix = registry;
  rule.mirrors.push_back({location, insecure});
  rule.origin = "--registry-mirror";
  rules_.push_back(std::move(rule));
}

std::string RegistriesConf::Qualify(std::string_view name) const { return Candidates(name).front(); }

std::vector<std::string> RegistriesConf::Candidates(std::string_view name) const {
  if (IsQualified(name) || name.rfind("oci:", 0) == 0) return {std::string(name)};
  // The alias key is the name without tag or digest.
  std::string_view bare = name, suffix;
  if (auto at = name.find('@'); at != std::string_view::npos) {
    bare = name.substr(0, at);
    suffix = name.substr(at);
  } else if (auto colon = name.rfind(':'); colon != std::string_view::npos) {
    bare = name.substr(0, colon);
    suffix = name.substr(colon);
  }
  if (auto it = aliases_.find(std::string(bare)); it != aliases_.end() && !it->second.empty())
    return {it->second + std::string(suffix)};
  if (search_.empty()) return {std::string(name)};
  std::vector<std::string> out;
  for (const auto& registry : search_) out.push_back(registry + "/" + std::string(name));
  if (out.size() > 1 && mode_ == ShortNameMode::kEnforcing) {
    std::string listed;
    for (const auto& registry : search_) listed += (listed.empty() ? "" : ", ") + registry;
    throw Error("short name " + std::string(name) + " is ambiguous: unqualified-search-registries lists " + listed +
                " (" + search_origin_ + ") and short-name-mode is enforcing (" + mode_origin_ +
                "); kiln never prompts: write the full name (" + out.front() + ") or add it to [aliases]");
  }
  return out;
}

const RegistryRule* RegistriesConf::Match(const std::string& name) const {
  const RegistryRule* best = nullptr;
  for (const auto& r : rules_) {
    if (!PrefixCovers(r.prefix, name)) continue;
    // The longest prefix wins; a wildcard loses to any exact prefix.
    auto rank = [](const RegistryRule* x) { return x->prefix.rfind("*.", 0) == 0 ? 0 : x->prefix.size() + 1; };
    if (!best || rank(&r) > rank(best)) best = &r;
  }
  return best;
}

std::vector<PullSource> RegistriesConf::PullSources(const Reference& ref) const { return Sources(ref, "pull", true); }

PullSource RegistriesConf::PushTarget(const Reference& ref) const { return Sources(ref, "push", false).back(); }

std::vector<PullSource> RegistriesConf::Sources(const Reference& ref, const char* action, bool use_mirrors) const {
  const std::string name = RepoName(ref);
  const RegistryRule* rule = Match(name);
  if (!rule) return {{ref, false, false}};
  if (rule->blocked)
    throw Error(std::string(action) + " " + ref.str() + ": registry " + rule->prefix + " is blocked by " +
                rule->origin + " (blocked = true)");
  // The part of the name below the prefix, moved under a location or mirror.
  const std::string rest =
      rule->prefix.rfind("*.", 0) == 0 ? name.substr(name.find('/')) : name.substr(rule->prefix.size());
  const std::string pin = ref.digest.empty() ? ":" + ref.tag : "@" + ref.digest;
  auto at = [&](const std::string& location) {
    std::string joined = location;
    if (!rest.empty() && rest.front() != '/' && !joined.empty() && joined.back() != '/') joined += '/';
    return Reference::Parse(joined + rest + pin);
  };
  std::vector<PullSource> out;
  const bool by_digest = !ref.digest.empty();
  const bool mirrors_apply = rule->pull_from_mirror == "all" || (rule->pull_from_mirror == "digest-only" && by_digest) ||
                             (rule->pull_from_mirror == "tag-only" && !by_digest);
  if (mirrors_apply && use_mirrors)
    for (const auto& m : rule->mirrors) out.push_back({at(m.location), m.insecure, true});
  const bool wildcard = rule->prefix.rfind("*.", 0) == 0;
  out.push_back({rule->location.empty() || wildcard ? ref : at(rule->location), rule->insecure, false});
  return out;
}

Descriptor PullVia(const RegistriesConf& conf, const Reference& ref, Store& store, const Platform& platform,
                   const RegistryOptions& opts, TransferStats* stats,
                   const std::function<void(const std::string&)>& note) {
  const std::vector<PullSource> sources = conf.PullSources(ref);
  std::string tried;
  for (size_t i = 0; i < sources.size(); ++i) {
    const PullSource& s = sources[i];
    RegistryOptions ro = opts;
    if (s.insecure) ro.AllowInsecure(true);
    if (s.mirror && note) note("pulling " + ref.str() + " from mirror " + s.ref.str());
    try {
      return RegistryClient(ro).Pull(s.ref, store, platform, stats);
    } catch (const Error& e) {
      if (i + 1 == sources.size()) {
        if (tried.empty()) throw;
        throw Error(std::string(e.what()) + " (after the mirrors failed: " + tried + ")");
      }
      if (note) note("mirror " + s.ref.str() + " failed, trying the next source: " + e.what());
      tried += (tried.empty() ? "" : "; ") + s.ref.str() + ": " + e.what();
    }
  }
  throw Error("pull " + ref.str() + ": no source to pull from");  // PullSources always has the registry itself
}

std::pair<Reference, Descriptor> PullFirst(const RegistriesConf& conf, const std::vector<std::string>& candidates,
                                           Store& store, const Platform& platform, const RegistryOptions& opts,
                                           TransferStats* stats, const std::function<void(const std::string&)>& note) {
  std::string tried;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Reference ref = Reference::Parse(candidates[i]);
    try {
      return {ref, PullVia(conf, ref, store, platform, opts, stats, note)};
    } catch (const Error& e) {
      if (candidates.size() == 1) throw;
      tried += (tried.empty() ? "" : "; ") + ref.str() + ": " + e.what();
      if (i + 1 < candidates.size() && note) note(ref.str() + " failed, trying the next unqualified-search registry");
    }
  }
  throw Error("no unqualified-search registry has it (" + tried + ")");
}

}  // namespace kiln::oci
