// Rules about individual instructions and their order in a stage (KL4xx).
#include <algorithm>
#include <set>

#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {
namespace {

// Names referenced as $NAME / ${NAME...} in `s` (escaped \$ skipped).
std::vector<std::string> VarRefs(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') { ++i; continue; }
    if (s[i] != '$' || i + 1 >= s.size()) continue;
    size_t j = i + 1;
    if (s[j] == '{') ++j;
    size_t k = j;
    while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
    if (k > j && !std::isdigit(static_cast<unsigned char>(s[j]))) out.emplace_back(s.substr(j, k - j));
    i = k - 1;
  }
  return out;
}

bool IsArchive(const std::string& s) {
  for (std::string_view ext : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".gz", ".bz2", ".xz", ".zst"})
    if (s.ends_with(ext)) return true;
  return false;
}

bool ValidPort(std::string p) {
  if (auto slash = p.find('/'); slash != std::string::npos) {
    std::string proto = AsciiLower(p.substr(slash + 1));
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return false;
    p.resize(slash);
  }
  auto in_range = [](const std::string& n) {
    return !n.empty() && n.size() <= 5 && std::all_of(n.begin(), n.end(), ::isdigit) && std::stoi(n) <= 65535;
  };
  if (auto dash = p.find('-'); dash != std::string::npos) return in_range(p.substr(0, dash)) && in_range(p.substr(dash + 1));
  return in_range(p);
}

bool ValidLabelKey(const std::string& k) {
  if (k.empty() || !std::islower(static_cast<unsigned char>(k.front()))) return false;
  if (!(std::islower(static_cast<unsigned char>(k.back())) || std::isdigit(static_cast<unsigned char>(k.back())))) return false;
  for (char c : k)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
          c == '_' || c == '/'))
      return false;
  if (k.find("..") != std::string::npos || k.find("--") != std::string::npos) return false;
  return !(k.starts_with("com.docker.") || k.starts_with("io.docker.") || k.starts_with("org.dockerproject."));
}

const std::set<std::string>& PredefinedArgs() {
  static const std::set<std::string> k = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
      "ALL_PROXY", "all_proxy", "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM",
      "BUILDOS", "BUILDARCH", "BUILDVARIANT", "TARGETSTAGE", "BUILDKIT_SYNTAX", "SOURCE_DATE_EPOCH"};
  return k;
}

// Text of the fields docker expands, for the ARG-order rule.
std::string ExpandedText(const Instruction& ins) {
  return std::visit(
      [&](const auto& c) -> std::string {
        using T = std::decay_t<decltype(c)>;
        std::string s;
        if constexpr (std::is_same_v<T, CopyCmd>) {
          for (const auto& src : c.sources) s += src + " ";
          s += c.dest + " " + c.chown + " " + c.chmod + " " + c.from;
        } else if constexpr (std::is_same_v<T, EnvCmd>) {
          for (const auto& kv : c.vars) s += kv.value + " ";
        } else if constexpr (std::is_same_v<T, LabelCmd>) {
          for (const auto& kv : c.labels) s += kv.key + " " + kv.value + " ";
        } else if constexpr (std::is_same_v<T, WorkdirCmd>) {
          s = c.path;
        } else if constexpr (std::is_same_v<T, UserCmd>) {
          s = c.user;
        } else if constexpr (std::is_same_v<T, ExposeCmd>) {
          for (const auto& p : c.ports) s += p + " ";
        } else if constexpr (std::is_same_v<T, VolumeCmd>) {
          for (const auto& p : c.paths) s += p + " ";
        } else if constexpr (std::is_same_v<T, RunCmd>) {
          std::string joined;
          s = RuleContext::Script(c, joined);
        } else if constexpr (std::is_same_v<T, ArgCmd>) {
          for (const auto& a : c.args) s += a.value.value_or("") + " ";
        }
        return s;
      },
      ins.command);
}

void CheckArgOrder(RuleContext& ctx, const Stage& st) {
  // ARG names declared in this stage, with the line of the first declaration.
  std::map<std::string, int> declared_at;
  for (const auto& ins : st.instructions)
    if (const auto* a = std::get_if<ArgCmd>(&ins.command))
      for (const auto& d : a->args) declared_at.emplace(d.name, ins.location.line);
  if (declared_at.empty()) return;  // nothing to use too early; spares building every instruction's text
  std::set<std::string> known, reported;
  for (const auto& ins : st.instructions) {
    for (const auto& name : VarRefs(ExpandedText(ins))) {
      auto it = declared_at.find(name);
      if (it == declared_at.end() || known.count(name) || reported.count(name) || it->second <= ins.location.line) continue;
      if (it->second > ins.location.line) {
        ctx.Report("KL411", ins.location, "$" + name + " is used before its ARG on line " + std::to_string(it->second) +
                                              " and expands to an empty string here; move the ARG up");
        reported.insert(name);
      }
    }
    if (const auto* a = std::get_if<ArgCmd>(&ins.command))
      for (const auto& d : a->args) known.insert(d.name);
    if (const auto* e = std::get_if<EnvCmd>(&ins.command))
      for (const auto& kv : e->vars) known.insert(kv.key);
  }
}

}  // namespace

void CheckInstructionRules(RuleContext& ctx) {
  std::set<std::string> global_args;
  for (const auto& a : ctx.df.global_args)
    for (const auto& d : a.args) global_args.insert(d.name);
  std::vector<bool> has_workdir(ctx.df.stages.size(), false);
  for (const auto& st : ctx.df.stages) {
    for (const auto& name : VarRefs(st.from.image + " " + st.from.platform))
      if (!global_args.count(name) && !PredefinedArgs().count(name))
        ctx.Report("KL411", st.location, "$" + name + " in FROM is not declared by an ARG before the first FROM and expands to an empty string");
    int parent = ctx.StageRef(st.from.image, st.index);
    bool workdir = parent >= 0 && has_workdir[static_cast<size_t>(parent)];
    int cmds = 0, entrypoints = 0, healthchecks = 0;
    std::set<std::string> env_known;
    for (const auto& ins : st.instructions) {
      const Location& at = ins.location;
      if (const auto* w = std::get_if<WorkdirCmd>(&ins.command)) {
        if (!w->path.starts_with("/") && !StartsWithVar(w->path) &&
            !(w->path.size() > 2 && w->path[1] == ':' && std::isalpha(static_cast<unsigned char>(w->path[0]))))
          ctx.Report("KL400", at, "WORKDIR " + w->path + " is relative, so it depends on the previous WORKDIR; use an absolute path");
        workdir = true;
      } else if (const auto* cp = std::get_if<CopyCmd>(&ins.command)) {
        if (cp->is_add && cp->checksum.empty()) {
          bool needs_add = false;
          for (const auto& s : cp->sources)
            if (IsUrl(s) || IsArchive(s) || s.find('$') != std::string::npos || s.starts_with("git@")) needs_add = true;
          if (!needs_add)
            ctx.Report("KL401", at, "ADD of local files: use COPY, which does only that (ADD also fetches URLs and unpacks archives)");
        }
        if (cp->sources.size() > 1 && !cp->dest.ends_with("/") && !StartsWithVar(cp->dest))
          ctx.Report("KL402", at, ins.keyword + " with several sources needs a destination ending in '/' (" + cp->dest + ")");
        if (!cp->from.empty()) {
          const std::string from = AsciiLower(cp->from);
          if ((!st.name.empty() && from == st.name) || from == std::to_string(st.index)) {
            ctx.Report("KL403", at, "COPY --from=" + cp->from + " refers to the stage it is in");
          } else if (ctx.StageRef(cp->from, st.index) < 0) {
            bool later_stage = false;
            for (const auto& other : ctx.df.stages)
              if (other.index > st.index && (other.name == from || std::to_string(other.index) == from)) later_stage = true;
            const bool bad_index = !from.empty() && std::all_of(from.begin(), from.end(), ::isdigit);
            if (later_stage || bad_index)
              ctx.Report("KL404", at, "COPY --from=" + cp->from + " does not name an earlier stage" +
                                          std::string(later_stage ? " (it is defined later)" : ""));
          }
          std::string src = cp->sources.empty() ? "" : cp->sources[0];
          if (cp->sources.size() == 1 && src == "/" && cp->dest == "/")
            ctx.Report("KL415", at, "COPY --from=" + cp->from + " / / copies a whole filesystem; copy only the paths you need");
        }
        if (!cp->dest.starts_with("/") && !StartsWithVar(cp->dest) && !workdir &&
            !(cp->dest.size() > 2 && cp->dest[1] == ':'))
          ctx.Report("KL413", at, ins.keyword + " to relative destination " + cp->dest +
                                      " without a WORKDIR in the stage; set WORKDIR or use an absolute path");
      } else if (const auto* c = std::get_if<CmdCmd>(&ins.command)) {
        if (++cmds == 2) ctx.Report("KL406", at, "more than one CMD in the stage; only the last one takes effect");
        if (c->shell_form) ctx.Report("KL405", at, "CMD in shell form runs under /bin/sh -c, which does not forward signals; use the JSON form");
      } else if (const auto* e = std::get_if<EntrypointCmd>(&ins.command)) {
        if (++entrypoints == 2) ctx.Report("KL407", at, "more than one ENTRYPOINT in the stage; only the last one takes effect");
        if (e->shell_form)
          ctx.Report("KL405", at, "ENTRYPOINT in shell form runs under /bin/sh -c, which does not forward signals; use the JSON form");
      } else if (std::holds_alternative<HealthcheckCmd>(ins.command)) {
        if (++healthchecks == 2) ctx.Report("KL408", at, "more than one HEALTHCHECK in the stage; only the last one takes effect");
      } else if (const auto* ex = std::get_if<ExposeCmd>(&ins.command)) {
        for (const auto& p : ex->ports)
          if (p.find('$') == std::string::npos && !ValidPort(p))
            ctx.Report("KL409", at, "EXPOSE " + p + " is not a valid port (0-65535, optionally /tcp, /udp or /sctp)");
      } else if (std::holds_alternative<MaintainerCmd>(ins.command)) {
        ctx.Report("KL410", at, "MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=\"...\"");
      } else if (const auto* env = std::get_if<EnvCmd>(&ins.command)) {
        std::set<std::string> defined_here;
        for (const auto& kv : env->vars) {
          for (const auto& ref : VarRefs(kv.value))
            if (defined_here.count(ref) && !env_known.count(ref))
              ctx.Report("KL412", at, "ENV " + kv.key + " uses $" + ref + ", which this ENV instruction sets: the new value is not "
                                      "visible yet; split it into two ENV instructions");
          defined_here.insert(kv.key);
        }
        env_known.insert(defined_here.begin(), defined_here.end());
      } else if (const auto* arg = std::get_if<ArgCmd>(&ins.command)) {
        for (const auto& d : arg->args) env_known.insert(d.name);
      } else if (const auto* label = std::get_if<LabelCmd>(&ins.command)) {
        for (const auto& kv : label->labels)
          if (kv.key.find('$') == std::string::npos && !ValidLabelKey(kv.key))
            ctx.Report("KL414", at, "label key '" + kv.key + "' should be lower-case reverse-DNS ([a-z0-9._/-], no reserved "
                                    "com.docker./io.docker./org.dockerproject. prefixes)");
      }
    }
    has_workdir[static_cast<size_t>(st.index)] = workdir;
    CheckArgOrder(ctx, st);
  }
}

}  // namespace kiln::frontend::lint
