// Package manager rules (KL2xx): pinning, non-interactive flags, caches.
#include <algorithm>
#include <optional>
#include <set>

#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {
namespace {

// A package manager command line: options, the subcommand, operands.
struct Cli {
  std::string_view sub;
  std::vector<std::string_view> operands;
  std::vector<std::string_view> options;  // as written, "=value" kept
  bool Has(std::initializer_list<std::string_view> names) const {
    for (const auto& o : options) {
      std::string_view name(o);
      name = name.substr(0, name.find('='));
      for (auto n : names) {
        if (name == n) return true;
        // Combined short options: -qy has -y.
        if (n.size() == 2 && n[0] == '-' && name.size() > 2 && name[0] == '-' && name[1] != '-' &&
            name.find(n[1]) != std::string_view::npos)
          return true;
      }
    }
    return false;
  }
  int Count(std::string_view short_opt) const {  // -q -q or -qq
    int n = 0;
    for (const auto& o : options)
      if (o.size() >= 2 && o[0] == '-' && o[1] != '-') n += static_cast<int>(std::count(o.begin() + 1, o.end(), short_opt[1]));
    return n;
  }
};

Cli ParseCli(std::span<const std::string_view> args, std::initializer_list<std::string_view> value_opts) {
  Cli c;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      c.options.push_back(a);
      if (a.find('=') == std::string::npos &&
          std::find(value_opts.begin(), value_opts.end(), a) != value_opts.end())
        ++i;
      continue;
    }
    if (c.sub.empty()) c.sub = a;
    else c.operands.push_back(a);
  }
  return c;
}

bool HasCacheMount(const RunCmd& run, std::initializer_list<std::string_view> dirs) {
  for (const auto& m : run.mounts) {
    if (m.type != "cache" && m.type != "tmpfs") continue;
    std::string t = m.target;
    while (t.size() > 1 && t.ends_with('/')) t.pop_back();
    for (auto d : dirs)
      if (t == d || std::string_view(t).ends_with(d)) return true;
  }
  return false;
}

bool RemovesPath(const std::vector<ShellCommand>& cmds, std::string_view prefix) {
  for (const auto& c : cmds)
    if (c.Program() == "rm")
      for (std::string_view a : c.Args())
        if (a.starts_with(prefix)) return true;
  return false;
}

bool IsVariable(std::string_view w) { return w.find('$') != std::string_view::npos; }

// `name-1.2` / `name-0:1.2.el8`: yum/dnf pin a version with a dash.
bool DashVersion(std::string_view w) {
  for (size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] == '-' && std::isdigit(static_cast<unsigned char>(w[i + 1]))) return true;
  return false;
}

// pip's arguments when `c` runs pip (directly or as `python -m pip`).
std::optional<std::span<const std::string_view>> PipArgs(const ShellCommand& c) {
  const std::string_view p = c.Program();
  auto a = c.Args();
  if (p == "pip" || p.starts_with("pip3") || p == "pip2") return a;
  if (p.starts_with("python") && a.size() >= 2 && a[0] == "-m" && (a[1] == "pip" || a[1] == "pip3")) return a.subspan(2);
  return std::nullopt;
}

std::string Join(const std::vector<std::string_view>& v, size_t max = 3) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    if (i) s += ", ";
    s += v[i];
  }
  if (v.size() > max) s += ", ...";
  return s;
}

struct StageState {
  bool pip_no_cache_env = false;
  const Instruction* apt_update = nullptr;  // first RUN with apt-get update
  bool apt_lists_cleaned = false;
};

void CheckRun(RuleContext& ctx, const Instruction& ins, const RunCmd& run, StageState& st) {
  const auto& cmds = ctx.Commands(ins);
  const Location& at = ins.location;
  bool apt_update = false, apt_install = false;
  auto has_prog_sub = [&](std::initializer_list<std::string_view> progs, std::string_view sub) {
    for (const auto& c : cmds) {
      auto p = c.Program();
      if (std::find(progs.begin(), progs.end(), p) == progs.end()) continue;
      auto a = c.Args();
      if (std::find(a.begin(), a.end(), sub) != a.end()) return true;
    }
    return false;
  };
  for (const auto& c : cmds) {
    // Compared as a view: libstdc++ 12 compares std::string with a literal
    // out of line (strlen, memcmp); string_view checks the size first.
    const std::string_view p = c.Program();
    const std::string prog(p);  // for messages
    const auto args = c.Args();
    if (p == "apt-get" || p == "apt" || p == "aptitude") {
      Cli cli = ParseCli(args, {"-o", "-t", "-c", "--target-release", "--option"});
      if (p == "apt") ctx.Report("KL205", at, "use apt-get (or apt-cache) in scripts; apt's CLI is not stable");
      if (cli.sub == "update") apt_update = true;
      if (cli.sub == "upgrade" || cli.sub == "dist-upgrade" || cli.sub == "full-upgrade")
        ctx.Report("KL204", at, prog + " " + std::string(cli.sub) + " in a Dockerfile makes builds unreproducible; use a newer base image instead");
      if (cli.sub == "install") {
        apt_install = true;
        if (!cli.Has({"-y", "--yes", "--assume-yes"}) && cli.Count("-q") < 2)
          ctx.Report("KL202", at, prog + " install without -y will wait for confirmation; add -y");
        bool no_rec = cli.Has({"--no-install-recommends"});
        for (const auto& o : cli.options)
          if (o.find("Install-Recommends") != std::string::npos) no_rec = true;
        for (size_t i = 0; i + 1 < args.size(); ++i)
          if (args[i] == "-o" && args[i + 1].find("Install-Recommends") != std::string::npos) no_rec = true;
        if (!no_rec) ctx.Report("KL203", at, prog + " install without --no-install-recommends pulls in extra packages");
        std::vector<std::string_view> unpinned;
        for (const auto& pkg : cli.operands)
          if (pkg.find('=') == std::string_view::npos && !pkg.ends_with(".deb") && !IsVariable(pkg) && !pkg.starts_with("/") &&
              !pkg.starts_with("."))
            unpinned.push_back(pkg);
        if (!unpinned.empty())
          ctx.Report("KL200", at, prog + " install without version pins (" + Join(unpinned) + "); use pkg=version");
      }
    } else if (p == "apk") {
      Cli cli = ParseCli(args, {"-X", "--repository", "-t", "--virtual", "--root", "-p", "--arch", "--cache-dir"});
      if (cli.sub == "add") {
        if (!cli.Has({"--no-cache"}) && !HasCacheMount(run, {"/var/cache/apk"}))
          ctx.Report("KL208", at, "apk add without --no-cache leaves the package index in the image");
        std::vector<std::string_view> unpinned;
        for (const auto& pkg : cli.operands)
          if (pkg.find('=') == std::string_view::npos && !IsVariable(pkg) && !pkg.ends_with(".apk") && !pkg.starts_with("."))
            unpinned.push_back(pkg);
        if (!unpinned.empty()) ctx.Report("KL207", at, "apk add without version pins (" + Join(unpinned) + "); use pkg=version");
      }
    } else if (auto pip_args = PipArgs(c)) {
      Cli cli = ParseCli(*pip_args, {"-i", "--index-url", "--extra-index-url", "-t", "--target", "--prefix", "-f",
                                    "--find-links", "--root", "--platform", "--python-version", "--implementation",
                                    "--abi", "--trusted-host", "--src", "--upgrade-strategy", "--progress-bar", "--log",
                                    "--cache-dir", "--timeout", "--retries", "-e", "--editable", "--only-binary",
                                    "--no-binary"});
      if (cli.sub != "install") continue;
      if (!cli.Has({"--no-cache-dir"}) && !st.pip_no_cache_env && !HasCacheMount(run, {".cache/pip", "/root/.cache"}))
        ctx.Report("KL210", at, "pip install without --no-cache-dir keeps the wheel cache in the image");
      if (cli.Has({"-r", "--requirement", "-c", "--constraint"})) continue;
      std::vector<std::string_view> unpinned;
      for (const auto& pkg : cli.operands) {
        if (IsVariable(pkg) || pkg.find_first_of("=<>~@") != std::string::npos || pkg.starts_with(".") ||
            pkg.starts_with("/") || pkg.find("://") != std::string::npos || pkg.ends_with(".whl") ||
            pkg.ends_with(".tar.gz") || pkg.ends_with(".zip"))
          continue;
        unpinned.push_back(pkg);
      }
      if (!unpinned.empty())
        ctx.Report("KL209", at, "pip install without version constraints (" + Join(unpinned) + "); use pkg==version");
    } else if (p == "npm") {
      Cli cli = ParseCli(args, {"--registry", "--prefix", "--cache", "-w", "--workspace"});
      if (cli.sub != "install" && cli.sub != "i" && cli.sub != "add") continue;
      std::vector<std::string_view> unpinned;
      for (const auto& pkg : cli.operands) {
        const bool versioned = pkg.find('@', pkg.starts_with("@") ? 1 : 0) != std::string::npos;
        const bool path = pkg.starts_with(".") || pkg.starts_with("/") || pkg.find("://") != std::string::npos ||
                          pkg.ends_with(".tgz") || pkg.ends_with(".tar.gz") || pkg.starts_with("git");
        const bool github = !pkg.starts_with("@") && pkg.find('/') != std::string::npos;  // user/repo#ref
        if (!versioned && !path && !github && !IsVariable(pkg)) unpinned.push_back(pkg);
      }
      if (!unpinned.empty()) ctx.Report("KL211", at, "npm install without versions (" + Join(unpinned) + "); use pkg@version");
    } else if (p == "gem") {
      Cli cli = ParseCli(args, {"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "--source", "-s"});
      if (cli.sub != "install" && cli.sub != "i") continue;
      if (cli.Has({"-v", "--version"})) continue;
      std::vector<std::string_view> unpinned;
      for (const auto& g : cli.operands)
        if (g.find(':') == std::string::npos && !IsVariable(g) && !g.ends_with(".gem")) unpinned.push_back(g);
      if (!unpinned.empty()) ctx.Report("KL212", at, "gem install without versions (" + Join(unpinned) + "); use -v or name:version");
    } else if (p == "yum" || p == "dnf" || p == "microdnf") {
      Cli cli = ParseCli(args, {"--setopt", "-c", "--config", "--installroot", "--releasever", "-x", "--exclude"});
      const bool install = cli.sub == "install" || cli.sub == "groupinstall" || cli.sub == "localinstall";
      if (!install) continue;
      const bool is_yum = p == "yum";
      if (!cli.Has({"-y", "--assumeyes"}))
        ctx.Report(is_yum ? "KL213" : "KL216", at, prog + " " + std::string(cli.sub) + " without -y will wait for confirmation; add -y");
      const bool cleaned = is_yum ? (has_prog_sub({"yum"}, "clean") || RemovesPath(cmds, "/var/cache/yum"))
                                  : (has_prog_sub({"dnf", "microdnf"}, "clean") || RemovesPath(cmds, "/var/cache/dnf") ||
                                     RemovesPath(cmds, "/var/cache/yum") || HasCacheMount(run, {"/var/cache/dnf", "/var/cache/yum"}));
      if (!cleaned)
        ctx.Report(is_yum ? "KL214" : "KL217", at, prog + " install without `" + prog + " clean all` in the same RUN leaves the cache in the image");
      std::vector<std::string_view> unpinned;
      if (cli.sub == "install")
        for (const auto& pkg : cli.operands)
          if (!DashVersion(pkg) && !pkg.ends_with(".rpm") && !IsVariable(pkg) && pkg.find('/') == std::string::npos &&
              !pkg.starts_with("@"))
            unpinned.push_back(pkg);
      if (!unpinned.empty())
        ctx.Report(is_yum ? "KL215" : "KL218", at, prog + " install without versions (" + Join(unpinned) + "); use name-version");
    } else if (p == "zypper") {
      Cli cli = ParseCli(args, {"--root", "-R", "--repo", "-r", "-t", "--type"});
      static const std::set<std::string_view> kNeedsYes = {"install", "in", "remove", "rm", "source-install", "si", "patch"};
      if (kNeedsYes.count(cli.sub) && !cli.Has({"-n", "--non-interactive", "-y", "--no-confirm"}))
        ctx.Report("KL219", at, "zypper " + std::string(cli.sub) + " without -n/--non-interactive will wait for confirmation");
      if (cli.sub == "dist-upgrade" || cli.sub == "dup")
        ctx.Report("KL220", at, "zypper " + std::string(cli.sub) + " makes builds unreproducible; use a newer base image instead");
      if (cli.sub == "install" || cli.sub == "in") {
        if (!has_prog_sub({"zypper"}, "clean") && !has_prog_sub({"zypper"}, "cc") && !HasCacheMount(run, {"/var/cache/zypp"}))
          ctx.Report("KL221", at, "zypper install without `zypper clean` in the same RUN leaves the cache in the image");
        std::vector<std::string_view> unpinned;
        for (const auto& pkg : cli.operands)
          if (pkg.find_first_of("=<>") == std::string::npos && !pkg.ends_with(".rpm") && !IsVariable(pkg))
            unpinned.push_back(pkg);
        if (!unpinned.empty()) ctx.Report("KL222", at, "zypper install without versions (" + Join(unpinned) + "); use name=version");
      }
    } else if (p == "go") {
      Cli cli = ParseCli(args, {"-o", "-C", "-ldflags", "-tags", "-gcflags", "-mod", "-p"});
      if (cli.sub != "install" && cli.sub != "get" && cli.sub != "run") continue;
      std::vector<std::string_view> unpinned;
      for (const auto& pkg : cli.operands) {
        auto first = pkg.substr(0, pkg.find('/'));
        const bool remote = first.find('.') != std::string::npos && pkg.find('/') != std::string::npos && !pkg.starts_with(".");
        if (!remote || IsVariable(pkg)) continue;
        auto at_pos = pkg.rfind('@');
        if (at_pos == std::string::npos || pkg.substr(at_pos + 1) == "latest" || pkg.substr(at_pos + 1) == "none")
          unpinned.push_back(pkg);
      }
      if (!unpinned.empty()) ctx.Report("KL223", at, "go " + std::string(cli.sub) + " of a remote module without @version (" + Join(unpinned) + ")");
    } else if (p == "yarn") {
      auto a = args;
      if (!a.empty() && a[0] == "install" && !has_prog_sub({"yarn"}, "cache") &&
          !HasCacheMount(run, {"/usr/local/share/.cache/yarn", ".cache/yarn", ".yarn/cache"}))
        ctx.Report("KL224", at, "yarn install without `yarn cache clean` in the same RUN leaves the cache in the image");
    }
    if (p == "rm")
      for (const auto& a : args)
        if (a.starts_with("/var/lib/apt/lists")) st.apt_lists_cleaned = true;
  }
  if (apt_update && !apt_install)
    ctx.Report("KL206", at, "apt-get update alone in a RUN: the layer is cached and later installs use stale lists; "
                            "run update and install in the same RUN");
  if (apt_update) {
    if (!st.apt_update) st.apt_update = &ins;
    if (HasCacheMount(run, {"/var/lib/apt/lists", "/var/lib/apt"})) st.apt_lists_cleaned = true;
  }
}

}  // namespace

void CheckPackageRules(RuleContext& ctx) {
  for (const auto& stage : ctx.df.stages) {
    StageState st;
    for (const auto& ins : stage.instructions) {
      if (const auto* env = std::get_if<EnvCmd>(&ins.command)) {
        for (const auto& kv : env->vars) {
          const std::string v = AsciiLower(kv.value);
          if (kv.key == "PIP_NO_CACHE_DIR") st.pip_no_cache_env = !(v == "0" || v == "false" || v == "off" || v.empty());
        }
      } else if (const auto* run = std::get_if<RunCmd>(&ins.command)) {
        CheckRun(ctx, ins, *run, st);
      }
    }
    if (st.apt_update && !st.apt_lists_cleaned)
      ctx.Report("KL201", st.apt_update->location,
                 "apt-get update without `rm -rf /var/lib/apt/lists/*` in the stage leaves the package lists in the image");
  }
}

}  // namespace kiln::frontend::lint
