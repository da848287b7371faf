#include "frontend/stage_graph.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "frontend/expand.h"
#include "frontend/flags.h"
#include "frontend/shell_lex.h"
#include "frontend/stage_vars.h"
#include "frontend/suggest.h"
#include "frontend/text_util.h"

namespace kiln::frontend {

namespace {

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Go/OCI architecture name and variant for a uname machine string.
std::pair<std::string, std::string> OciArch(const std::string& machine) {
  if (machine == "x86_64" || machine == "amd64") return {"amd64", ""};
  if (machine == "aarch64" || machine == "arm64") return {"arm64", ""};
  if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") return {"386", ""};
  if (machine.rfind("armv7", 0) == 0) return {"arm", "v7"};
  if (machine.rfind("armv6", 0) == 0) return {"arm", "v6"};
  if (machine.rfind("armv5", 0) == 0) return {"arm", "v5"};
  if (machine == "ppc64le" || machine == "s390x" || machine == "riscv64" || machine == "mips64") {
    return {machine, ""};
  }
  if (machine == "loongarch64") return {"loong64", ""};
  return {machine, ""};
}

void AddDependency(StageNode& node, std::optional<int> stage, const std::string& ref) {
  if (stage) {
    node.depends_on.insert(*stage);
  } else if (AsciiLower(ref) != "scratch") {
    node.images.insert(ref);
  }
}

}  // namespace

BuildArgs DefaultBuildArgs() {
  BuildArgs args;
  struct utsname u {};
  std::string machine = uname(&u) == 0 ? u.machine : "x86_64";
  auto [arch, variant] = OciArch(machine);
  std::string platform = "linux/" + arch + (variant.empty() ? "" : "/" + variant);
  // Without --platform the target is the machine building it.
  SetPlatformArgs(args, platform, platform);
  for (const char* name : {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                           "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}) {
    if (const char* v = std::getenv(name)) args.predefined[name] = v;
  }
  return args;
}

void SetPlatformArgs(BuildArgs& args, const std::string& target_platform, const std::string& build_platform) {
  auto set = [&](const std::string& prefix, const std::string& platform) {
    std::string parts[3];  // os, arch, variant
    size_t n = 0;
    for (char c : platform) {
      if (c == '/' && n < 2) ++n;
      else parts[n] += c;
    }
    args.predefined[prefix + "PLATFORM"] = platform;
    args.predefined[prefix + "OS"] = parts[0];
    args.predefined[prefix + "ARCH"] = parts[1];
    args.predefined[prefix + "VARIANT"] = parts[2];
  };
  set("TARGET", target_platform);
  set("BUILD", build_platform);
}

std::optional<int> ResolveStageRef(const Dockerfile& df, const std::string& ref, int before,
                                   const Location& where) {
  int count = static_cast<int>(df.stages.size());
  if (AllDigits(ref)) {
    int index = std::stoi(ref);
    if (index < before) return index;
    if (index == before) throw Error(where, "circular dependency detected on stage: " + ref);
    if (index < count) {
      throw Error(where, "stage " + ref + " is defined after the stage that uses it (at " +
                             df.stages[index].location.str() + ")");
    }
    throw Error(where, "invalid stage index " + ref + ": the Dockerfile has " +
                           std::to_string(count) + " stages");
  }
  std::string name = AsciiLower(ref);
  for (int i = 0; i < count; ++i) {
    if (df.stages[i].name.empty() || df.stages[i].name != name) continue;
    if (i < before) return i;
    if (i == before) throw Error(where, "circular dependency detected on stage: " + name);
    throw Error(where, "stage \"" + name + "\" is used before it is defined (at " +
                           df.stages[i].location.str() + ")");
  }
  return std::nullopt;
}

std::optional<int> ResolveStageRef(const Dockerfile& df, const std::string& ref, int before) {
  Location where = before >= 0 && before < static_cast<int>(df.stages.size())
                       ? df.stages[before].location
                       : Location{df.filename, 0, 0, 0};
  return ResolveStageRef(df, ref, before, where);
}

int FindTargetStage(const Dockerfile& df, const std::string& target) {
  std::string name = AsciiLower(target);
  std::vector<std::string> names;
  for (const auto& s : df.stages) {
    if (!s.name.empty() && s.name == name) return s.index;
    if (!s.name.empty()) names.push_back(s.name);
  }
  std::string msg = "target stage \"" + target + "\" could not be found";
  if (auto s = Suggest(name, names)) msg += " (did you mean " + *s + "?)";
  throw Error(Location{df.filename, 0, 0, 0}, msg);
}

StageGraph BuildStageGraph(const Dockerfile& df, const BuildArgs& args, const std::string& target) {
  StageGraph graph;
  const GlobalArgs globals = ResolveGlobalArgs(df, args);
  const VarMap from_vars = FromLineVars(globals, args);
  ShellLex lex(df.escape);
  ShellLex::Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = from_vars.find(name);
    if (it == from_vars.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::set<std::string>> consumed(df.stages.size());

  for (const Stage& stage : df.stages) {
    StageNode node;
    node.index = stage.index;
    ShellLex::Matches matches;
    std::string image;
    try {
      image = lex.ProcessWordWithMatches(stage.from.image, lookup, &matches);
      node.platform = lex.ProcessWordWithMatches(stage.from.platform, lookup, &matches);
    } catch (const Error&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw Error(stage.location, std::string("FROM: ") + e.what());
    }
    for (const auto& m : matches.matched) {
      if (globals.values.count(m) && args.values.count(m)) consumed[stage.index].insert(m);
    }
    if (image.empty()) {
      throw Error(stage.location, "base name (" + stage.from.image + ") should not be blank");
    }
    // FROM takes stage names only (not indexes), like BuildKit.
    node.base_stage = AllDigits(image) ? std::nullopt
                                       : ResolveStageRef(df, image, stage.index, stage.location);
    if (node.base_stage) {
      node.depends_on.insert(*node.base_stage);
    } else if (AsciiLower(image) == "scratch") {
      node.scratch = true;
    } else {
      node.base_image = image;
      node.images.insert(image);
    }

    // --from values may use the stage's ARGs, so walk its scope.
    StageVars vars(args, globals, df.escape);
    for (const Instruction& in : stage.instructions) {
      if (const auto* copy = std::get_if<CopyCmd>(&in.command); copy && !copy->from.empty()) {
        std::string ref;
        try {
          ref = lex.ProcessWord(copy->from, vars.ForExpansion());
        } catch (const Error&) {
          throw;
        } catch (const std::runtime_error& e) {
          throw Error(in.location, std::string("--from: ") + e.what());
        }
        if (ref.empty()) throw Error(in.location, "--from expands to an empty value: " + copy->from);
        AddDependency(node, ResolveStageRef(df, ref, stage.index, in.location), ref);
      } else if (const auto* run = std::get_if<RunCmd>(&in.command)) {
        if (run->mount_flags.empty()) continue;
        Instruction e = Expand(in, vars.ForExpansion(), df.escape);
        for (const MountSpec& m : std::get<RunCmd>(e.command).mounts) {
          if (m.from.empty()) continue;
          AddDependency(node, ResolveStageRef(df, m.from, stage.index, in.location), m.from);
        }
      }
      vars.Apply(in);
    }
    consumed[stage.index].insert(vars.ConsumedBuildArgs().begin(), vars.ConsumedBuildArgs().end());
    graph.nodes.push_back(std::move(node));
  }

  graph.target = target.empty() ? static_cast<int>(df.stages.size()) - 1 : FindTargetStage(df, target);

  // Depth-first from the target; references only point backwards, but keep
  // the cycle check so the graph stays sound if that rule is ever relaxed.
  std::vector<int> state(graph.nodes.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<int> level(graph.nodes.size(), 0);
  std::function<void(int)> visit = [&](int i) {
    if (state[i] == 2) return;
    if (state[i] == 1) {
      throw Error(df.stages[i].location, "circular dependency detected on stage: " +
                                             (df.stages[i].name.empty() ? std::to_string(i) : df.stages[i].name));
    }
    state[i] = 1;
    for (int dep : graph.nodes[i].depends_on) {
      visit(dep);
      level[i] = std::max(level[i], level[dep] + 1);
    }
    state[i] = 2;
    graph.order.push_back(i);
  };
  visit(graph.target);

  for (int i : graph.order) {
    if (static_cast<size_t>(level[i]) >= graph.waves.size()) graph.waves.resize(level[i] + 1);
    graph.waves[level[i]].push_back(i);
  }
  for (auto& wave : graph.waves) std::sort(wave.begin(), wave.end());

  std::set<std::string> used;
  for (int i : graph.order) used.insert(consumed[i].begin(), consumed[i].end());
  for (const auto& [name, value] : args.values) {
    (void)value;
    bool predefined = IsProxyArg(name) || args.predefined.count(name);
    if (!predefined && !used.count(name)) graph.unused_build_args.push_back(name);
  }
  return graph;
}

}  // namespace kiln::frontend
