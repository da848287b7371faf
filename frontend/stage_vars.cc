#include "frontend/stage_vars.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "frontend/shell_lex.h"

namespace kiln::frontend {

namespace {

constexpr std::array<const char*, 10> kProxyArgs = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

std::string Expand1(const ShellLex& lex, const std::string& word, const VarMap& vars,
                    const Location& where, const std::string& keyword) {
  try {
    return lex.ProcessWord(word, vars);
  } catch (const Error&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw Error(where, keyword + ": " + e.what());
  }
}

}  // namespace

bool IsProxyArg(const std::string& name) {
  return std::find(kProxyArgs.begin(), kProxyArgs.end(), name) != kProxyArgs.end();
}

GlobalArgs ResolveGlobalArgs(const Dockerfile& df, const BuildArgs& args) {
  GlobalArgs globals;
  ShellLex lex(df.escape);
  for (size_t i = 0; i < df.global_args.size(); ++i) {
    const Location where = i < df.global_arg_locations.size() ? df.global_arg_locations[i]
                                                               : Location{df.filename, 0, 0, 0};
    for (const auto& decl : df.global_args[i].args) {
      VarMap vars = FromLineVars(globals, args);
      std::string name = Expand1(lex, decl.name, vars, where, "ARG");
      std::optional<std::string> value;
      if (auto it = args.values.find(name); it != args.values.end()) {
        value = it->second;
      } else if (decl.raw_value) {
        value = Expand1(lex, *decl.raw_value, vars, where, "ARG");
      } else if (decl.value) {
        value = decl.value;
      }
      if (!globals.values.count(name)) globals.order.push_back(name);
      // A later bare redeclaration does not erase an earlier value.
      if (value || !globals.values.count(name)) globals.values[name] = value;
    }
  }
  return globals;
}

VarMap FromLineVars(const GlobalArgs& globals, const BuildArgs& args) {
  VarMap vars;
  for (const auto& [k, v] : args.predefined) {
    if (!IsProxyArg(k)) vars[k] = v;
  }
  for (const auto& [k, v] : globals.values) {
    if (v) vars[k] = *v;
  }
  return vars;
}

StageVars::StageVars(BuildArgs args, GlobalArgs globals, char escape)
    : args_(std::move(args)), globals_(std::move(globals)), escape_(escape) {}

void StageVars::SetBaseEnv(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos) {
      SetEnv(entry, "");
    } else {
      SetEnv(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
}

const std::string* StageVars::FindEnv(const std::string& name) const {
  for (const auto& [k, v] : env_) {
    if (k == name) return &v;
  }
  return nullptr;
}

void StageVars::SetEnv(const std::string& name, const std::string& value) {
  for (auto& [k, v] : env_) {
    if (k == name) {
      v = value;  // docker replaces in place, keeping the position
      return;
    }
  }
  env_.emplace_back(name, value);
}

void StageVars::Apply(const Instruction& in) {
  ShellLex lex(escape_);
  if (const auto* env = std::get_if<EnvCmd>(&in.command)) {
    const VarMap before = ForExpansion();
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& kv : env->vars) {
      std::string key = Expand1(lex, kv.key, before, in.location, "ENV");
      std::string raw = kv.raw.empty() && !kv.value.empty() ? EscapeWord(kv.value, escape_) : kv.raw;
      values.emplace_back(key, Expand1(lex, raw, before, in.location, "ENV"));
    }
    for (const auto& [k, v] : values) SetEnv(k, v);
    return;
  }
  const auto* arg = std::get_if<ArgCmd>(&in.command);
  if (!arg) return;
  for (const auto& decl : arg->args) {
    const VarMap now = ForExpansion();
    std::string name = Expand1(lex, decl.name, now, in.location, "ARG");
    std::optional<std::string> value;
    if (auto it = args_.values.find(name); it != args_.values.end()) {
      value = it->second;
      consumed_.insert(name);
    } else if (decl.raw_value) {
      value = Expand1(lex, *decl.raw_value, now, in.location, "ARG");
    } else if (decl.value) {
      value = decl.value;
    } else if (auto g = globals_.values.find(name); g != globals_.values.end() && g->second) {
      value = g->second;
    } else if (auto p = args_.predefined.find(name); p != args_.predefined.end()) {
      value = p->second;
    }
    auto existing = std::find_if(args_declared_.begin(), args_declared_.end(),
                                 [&](const auto& a) { return a.first == name; });
    if (existing != args_declared_.end()) {
      // Redeclaring without a value keeps the value already in scope.
      if (value) existing->second = value;
    } else {
      args_declared_.emplace_back(name, value);
    }
  }
}

VarMap StageVars::ForExpansion() const {
  VarMap vars;
  for (const auto& [k, v] : args_declared_) {
    if (v) vars[k] = *v;
  }
  for (const auto& [k, v] : env_) vars[k] = v;  // ENV shadows ARG
  return vars;
}

std::vector<std::string> StageVars::RunEnv() const {
  std::vector<std::string> out = ConfigEnv();
  std::set<std::string> seen;
  for (const auto& [k, v] : env_) seen.insert(k);
  for (const auto& [k, v] : args_declared_) {
    if (v && seen.insert(k).second) out.push_back(k + "=" + *v);
  }
  for (const char* name : kProxyArgs) {
    if (seen.count(name)) continue;
    if (auto it = args_.values.find(name); it != args_.values.end()) {
      out.push_back(std::string(name) + "=" + it->second);
    } else if (auto p = args_.predefined.find(name); p != args_.predefined.end()) {
      out.push_back(std::string(name) + "=" + p->second);
    }
  }
  return out;
}

std::vector<std::string> StageVars::ConfigEnv() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : env_) out.push_back(k + "=" + v);
  return out;
}

std::vector<KeyValue> StageVars::HistoryArgs() const {
  std::vector<KeyValue> out;
  for (const auto& [k, v] : args_declared_) {
    if (v && !IsProxyArg(k)) out.push_back(KeyValue{k, *v, EscapeWord(*v, escape_)});
  }
  return out;
}

}  // namespace kiln::frontend
