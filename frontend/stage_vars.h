// ARG/ENV scoping while walking one stage, with docker's rules:
//  - ARGs before the first FROM ("global") are visible only in FROM lines
//    unless a stage redeclares them; a bare `ARG NAME` in a stage takes the
//    global value, then the predefined (platform) value.
//  - --build-arg overrides an ARG's default, but only where it is declared.
//  - ENV (from the base image or ENV instructions) always shadows an ARG of
//    the same name, and is seen only by instructions after it.
//  - predefined proxy args (HTTP_PROXY, ...) reach RUN's environment without a
//    declaration but never the image config or history.
// The builder keeps one StageVars per stage: SetBaseEnv() with the base image
// config's Env, then Apply() for each instruction in order, asking ForExpansion(),
// RunEnv() and ConfigEnv() as it goes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/instructions.h"
#include "frontend/stage_graph.h"

namespace kiln::frontend {

// The ARGs before the first FROM, evaluated in order: build-arg value if
// given, else the default expanded against earlier globals and the
// predefined platform args. nullopt: declared without any value.
struct GlobalArgs {
  std::vector<std::string> order;  // declaration order, first declaration wins the slot
  std::map<std::string, std::optional<std::string>> values;
};
GlobalArgs ResolveGlobalArgs(const Dockerfile& df, const BuildArgs& args);

// Variables FROM lines may use: predefined platform args, then global ARGs
// (which may override them).
VarMap FromLineVars(const GlobalArgs& globals, const BuildArgs& args);

// True for HTTP_PROXY and friends (both cases): passed to RUN, never recorded.
bool IsProxyArg(const std::string& name);

class StageVars {
 public:
  StageVars(BuildArgs args, GlobalArgs globals, char escape = '\\');

  // The base image's config Env ("KEY=value" entries, order kept).
  void SetBaseEnv(const std::vector<std::string>& env);

  // Feeds one UNEXPANDED instruction; only ARG and ENV change state. ARG
  // defaults expand one by one (`ARG A=1 B=$A` gives B=1); all pairs of one
  // ENV expand against the state before it (`ENV A=2 B=$A` sees the old A).
  // Throws Error with the instruction's location on bad expansion.
  void Apply(const Instruction& in);

  // Name -> value for expanding the next instruction: declared ARGs with a
  // value, overridden by ENV.
  VarMap ForExpansion() const;
  // "K=V" for the next RUN: ENV, then ARGs not shadowed by ENV, then
  // undeclared proxy args.
  std::vector<std::string> RunEnv() const;
  // "K=V" for the image config: ENV only, base image order then new keys.
  std::vector<std::string> ConfigEnv() const;
  // Declared ARGs that have a value, in declaration order, without proxy
  // args: what docker records in RUN history ("|2 A=1 B=2 /bin/sh -c ...").
  std::vector<KeyValue> HistoryArgs() const;
  // --build-arg names this stage's ARG declarations consumed.
  const std::set<std::string>& ConsumedBuildArgs() const { return consumed_; }

 private:
  const std::string* FindEnv(const std::string& name) const;
  void SetEnv(const std::string& name, const std::string& value);

  BuildArgs args_;
  GlobalArgs globals_;
  char escape_;
  std::vector<std::pair<std::string, std::string>> env_;      // ordered ENV
  std::vector<std::pair<std::string, std::optional<std::string>>> args_declared_;
  std::set<std::string> consumed_;
};

}  // namespace kiln::frontend
