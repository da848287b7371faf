#include "builder/platform_plan.h"

#include <algorithm>
#include <exception>
#include <tuple>

#include "frontend/error.h"

namespace kiln::builder {

namespace {

// The automatic platform args a stage declares with ARG (BuildKit gives a
// stage only those), with the values this target gives them.
std::string DeclaredPlatformArgs(const frontend::Stage& stage, const frontend::BuildArgs& args) {
  std::string out;
  for (const auto& inst : stage.instructions) {
    const auto* arg = std::get_if<frontend::ArgCmd>(&inst.command);
    if (!arg) continue;
    for (const auto& decl : arg->args) {
      auto p = args.predefined.find(decl.name);
      if (p == args.predefined.end() || frontend::IsProxyArg(decl.name)) continue;
      auto v = args.values.find(decl.name);
      out += decl.name + "=" + (v != args.values.end() ? v->second : p->second) + "\n";
    }
  }
  return out;
}

// A stage FROM another stage runs on that stage's platform (BuildKit).
oci::Platform StagePlatform(const frontend::Stage& stage, const frontend::StageNode& node,
                            const oci::Platform& inherited) {
  if (node.platform.empty()) return inherited;
  try {
    return oci::Platform::Parse(node.platform);
  } catch (const std::exception& e) {
    throw frontend::Error(stage.location, "FROM --platform=" + stage.from.platform + ": " + e.what());
  }
}

}  // namespace

PlatformPlan PlanPlatforms(const frontend::Dockerfile& df, const frontend::BuildArgs& args,
                           const std::string& target, const std::vector<oci::Platform>& platforms,
                           const oci::Platform& build) {
  PlatformPlan plan;
  plan.labelled = platforms.size() > 1;
  std::map<std::string, int> by_key;
  std::vector<int> level;
  for (const oci::Platform& p : platforms.empty() ? std::vector<oci::Platform>{build} : platforms) {
    PlatformTarget t;
    t.platform = p;
    t.args = args;
    // Without --platform the args stay as DefaultBuildArgs() set them.
    if (!platforms.empty()) frontend::SetPlatformArgs(t.args, p.str(), build.str());
    t.globals = frontend::ResolveGlobalArgs(df, t.args);
    const frontend::StageGraph graph = frontend::BuildStageGraph(df, t.args, target);
    if (plan.targets.empty()) plan.unused_build_args = graph.unused_build_args;
    const size_t ti = plan.targets.size();
    std::map<int, int> instance_of;  // stage -> instance, for this target
    for (int s : graph.order) {
      const frontend::Stage& stage = df.stages.at(size_t(s));
      StageInstance inst;
      inst.stage = s;
      inst.node = graph.nodes.at(size_t(s));
      inst.platform = StagePlatform(stage, inst.node,
                                    inst.node.base_stage ? plan.instances.at(size_t(instance_of.at(*inst.node.base_stage))).platform : p);
      if (inst.platform.os != "linux")
        throw frontend::Error(stage.location, "platform " + inst.platform.str() + ": kiln builds linux images only");
      inst.target = ti;
      for (int dep : inst.node.depends_on) inst.deps[dep] = instance_of.at(dep);
      inst.key = "stage=" + std::to_string(s) + "\nplatform=" + inst.platform.str() + "\nbase=" +
                 inst.node.base_image + "\n" + DeclaredPlatformArgs(stage, t.args);
      for (const auto& [dep, id] : inst.deps) inst.key += "dep=" + std::to_string(id) + "\n";
      auto [it, added] = by_key.try_emplace(inst.key, int(plan.instances.size()));
      if (added) {
        int lv = 0;
        for (const auto& [dep, id] : inst.deps) lv = std::max(lv, level.at(size_t(id)) + 1);
        level.push_back(lv);
        plan.instances.push_back(std::move(inst));
      }
      instance_of[s] = it->second;
    }
    t.instance = instance_of.at(graph.target);
    plan.targets.push_back(std::move(t));
  }
  for (size_t id = 0; id < plan.instances.size(); ++id) {
    if (size_t(level[id]) >= plan.waves.size()) plan.waves.resize(size_t(level[id]) + 1);
    plan.waves[size_t(level[id])].push_back(int(id));
  }
  // Within a wave by stage, then platform: one platform keeps the order the
  // stage graph gives it.
  for (auto& wave : plan.waves)
    std::sort(wave.begin(), wave.end(), [&](int a, int b) {
      return std::tie(plan.instances[size_t(a)].stage, a) < std::tie(plan.instances[size_t(b)].stage, b);
    });
  return plan;
}

std::string InstanceLabel(const frontend::Dockerfile& df, const PlatformPlan& plan, int instance) {
  const StageInstance& inst = plan.instances.at(size_t(instance));
  const frontend::Stage& stage = df.stages.at(size_t(inst.stage));
  const std::string name = stage.name.empty() ? "stage-" + std::to_string(inst.stage) : stage.name;
  return plan.labelled ? inst.platform.str() + " " + name : name;
}

}  // namespace kiln::builder
