#include "builder/config_apply.h"

#include <cstdio>
#include <filesystem>
#include <type_traits>

#include "frontend/error.h"
#include "frontend/text_util.h"

namespace kiln::builder {

namespace {

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

oci::History Entry(const std::string& created_by, const std::string& created, bool empty) {
  oci::History h;
  h.created = created;
  h.created_by = created_by;
  h.comment = kHistoryComment;
  h.empty_layer = empty;
  return h;
}

// "80" -> "80/tcp"; "8000-8002/udp" -> each port of the range.
std::vector<std::string> ExpandPort(const std::string& spec, const frontend::Location& where) {
  std::string port = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  auto parse = [&](const std::string& p) {
    if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5 ||
        std::stoi(p) > 65535)
      throw frontend::Error(where, "EXPOSE: invalid port '" + spec + "'");
    return std::stoi(p);
  };
  if (proto != "tcp" && proto != "udp" && proto != "sctp")
    throw frontend::Error(where, "EXPOSE: invalid protocol in '" + spec + "'");
  std::vector<std::string> out;
  if (auto dash = port.find('-'); dash != std::string::npos) {
    int lo = parse(port.substr(0, dash)), hi = parse(port.substr(dash + 1));
    if (hi < lo) throw frontend::Error(where, "EXPOSE: invalid range '" + spec + "'");
    for (int p = lo; p <= hi; ++p) out.push_back(std::to_string(p) + "/" + proto);
  } else {
    out.push_back(std::to_string(parse(port)) + "/" + proto);
  }
  return out;
}

std::string Duration(long long ns) {
  // Go's time.Duration String() for the whole seconds/milliseconds docker users write.
  if (ns % 1000000000LL == 0) return std::to_string(ns / 1000000000LL) + "s";
  if (ns % 1000000LL == 0) return std::to_string(ns / 1000000LL) + "ms";
  return std::to_string(ns) + "ns";
}

}  // namespace

oci::ImageConfig ScratchConfig(const oci::Platform& platform) {
  oci::ImageConfig c;
  c.architecture = platform.architecture;
  c.os = platform.os;
  c.variant = platform.variant;
  std::string path_env = "PATH=";
  path_env.append(kDefaultPath);  // (operator+ trips GCC 12's -Warray-bounds at -O2)
  c.config.env.push_back(std::move(path_env));
  return c;
}

bool IsConfigOnly(const frontend::Instruction& inst) {
  return !std::holds_alternative<frontend::RunCmd>(inst.command) &&
         !std::holds_alternative<frontend::CopyCmd>(inst.command) &&
         !std::holds_alternative<frontend::FromCmd>(inst.command);
}

std::vector<std::string> WithShell(const oci::ImageConfig& config, const std::string& command) {
  std::vector<std::string> argv = config.config.shell;
  if (argv.empty()) argv = {"/bin/sh", "-c"};
  argv.push_back(command);
  return argv;
}

std::string GoQuoteList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + frontend::GoQuote(items[i]);
  return out + "]";
}

std::string RunCreatedBy(const std::vector<std::string>& argv,
                         const std::vector<std::string>& build_arg_env) {
  std::string s = "RUN ";
  if (!build_arg_env.empty())
    s += "|" + std::to_string(build_arg_env.size()) + " " + Join(build_arg_env, " ") + " ";
  return s + Join(argv, " ") + " # buildkit";
}

std::string CopyCreatedBy(const frontend::CopyCmd& copy) {
  std::string s = copy.is_add ? "ADD" : "COPY";
  for (const auto& src : copy.sources) s += " " + src;
  return s + " " + copy.dest + " # buildkit";
}

void SetEnv(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  for (auto& kv : env) {
    if (kv.compare(0, key.size() + 1, key + "=") == 0) {
      kv = key + "=" + value;
      return;
    }
  }
  env.push_back(key + "=" + value);
}

const std::string* FindEnv(const std::vector<std::string>& env, const std::string& key,
                           std::string* storage) {
  for (const auto& kv : env) {
    if (kv.compare(0, key.size() + 1, key + "=") == 0) {
      *storage = kv.substr(key.size() + 1);
      return storage;
    }
  }
  return nullptr;
}

std::string JoinWorkdir(const std::string& current, const std::string& path) {
  std::filesystem::path p(path);
  if (!p.is_absolute()) p = std::filesystem::path(current.empty() ? "/" : current) / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s.empty() ? "/" : s;
}

void ApplyConfigInstruction(oci::ImageConfig& config, ConfigScope& scope,
                            const frontend::Instruction& inst, const std::string& created) {
  auto& c = config.config;
  std::string by;
  std::visit(
      [&](const auto& cmd) {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, frontend::EnvCmd>) {
          by = "ENV";
          for (const auto& kv : cmd.vars) {
            SetEnv(c.env, kv.key, kv.value);
            by += " " + kv.key + "=" + kv.value;
          }
        } else if constexpr (std::is_same_v<T, frontend::LabelCmd>) {
          by = "LABEL";
          for (const auto& kv : cmd.labels) {
            c.labels[kv.key] = kv.value;
            by += " " + kv.key + "=" + kv.value;
          }
        } else if constexpr (std::is_same_v<T, frontend::CmdCmd>) {
          c.cmd = cmd.shell_form ? WithShell(config, cmd.args.empty() ? "" : cmd.args[0]) : cmd.args;
          scope.cmd_set = true;
          by = "CMD " + GoQuoteList(*c.cmd);
        } else if constexpr (std::is_same_v<T, frontend::EntrypointCmd>) {
          if (cmd.shell_form)
            c.entrypoint = WithShell(config, cmd.args.empty() ? "" : cmd.args[0]);
          else
            c.entrypoint = cmd.args;
          // Docker: an ENTRYPOINT resets a CMD inherited from the base image.
          if (!scope.cmd_set) c.cmd.reset();
          by = "ENTRYPOINT " + GoQuoteList(*c.entrypoint);
        } else if constexpr (std::is_same_v<T, frontend::ShellCmd>) {
          c.shell = cmd.args;
          by = "SHELL [" + Join(cmd.args, " ") + "]";
        } else if constexpr (std::is_same_v<T, frontend::ArgCmd>) {
          by = "ARG";
          for (const auto& a : cmd.args) by += " " + a.name + (a.value ? "=" + *a.value : "");
        } else if constexpr (std::is_same_v<T, frontend::ExposeCmd>) {
          for (const auto& p : cmd.ports)
            for (auto& e : ExpandPort(p, inst.location)) c.exposed_ports.insert(e);
          by = "EXPOSE " + Join(cmd.ports, " ");
        } else if constexpr (std::is_same_v<T, frontend::VolumeCmd>) {
          for (const auto& v : cmd.paths) {
            c.volumes.insert(v);
          }
          by = "VOLUME " + GoQuoteList(cmd.paths);
        } else if constexpr (std::is_same_v<T, frontend::UserCmd>) {
          c.user = cmd.user;
          by = "USER " + cmd.user;
        } else if constexpr (std::is_same_v<T, frontend::WorkdirCmd>) {
          c.working_dir = JoinWorkdir(c.working_dir, cmd.path);
          by = "WORKDIR " + c.working_dir;
        } else if constexpr (std::is_same_v<T, frontend::StopsignalCmd>) {
          c.stop_signal = cmd.signal;
          by = "STOPSIGNAL " + cmd.signal;
        } else if constexpr (std::is_same_v<T, frontend::MaintainerCmd>) {
          config.author = cmd.name;
          by = "MAINTAINER " + cmd.name;
        } else if constexpr (std::is_same_v<T, frontend::OnbuildCmd>) {
          c.on_build.push_back(cmd.expression);
          by = "ONBUILD " + cmd.expression;
        } else if constexpr (std::is_same_v<T, frontend::HealthcheckCmd>) {
          oci::Healthcheck h;
          if (cmd.none) {
            h.test = {"NONE"};
          } else {
            h.test = cmd.test;
            h.interval = cmd.interval_ns.value_or(0);
            h.timeout = cmd.timeout_ns.value_or(0);
            h.start_period = cmd.start_period_ns.value_or(0);
            h.start_interval = cmd.start_interval_ns.value_or(0);
            h.retries = cmd.retries.value_or(0);
          }
          c.healthcheck = h;
          by = "HEALTHCHECK " + GoQuoteList(h.test);
          if (!cmd.none) {
            by += " interval=" + Duration(h.interval) + " timeout=" + Duration(h.timeout) +
                  " retries=" + std::to_string(h.retries);
          }
        } else {
          throw frontend::Error(inst.location, inst.keyword + " is not a config instruction");
        }
      },
      inst.command);
  config.history.push_back(Entry(by, created, true));
}

}  // namespace kiln::builder
