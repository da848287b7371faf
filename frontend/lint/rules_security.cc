// Security gate rules (KL0xx, severity error): they block `kiln build`.
#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "frontend/lint/context_scan.h"
#include "frontend/lint/rules_common.h"
#include "oci/supply/secret_rules/files.h"
#include "oci/supply/secret_rules/formats.h"
#include "oci/supply/secret_rules/names.h"

namespace kiln::frontend::lint {
namespace {

// --- KL001: the final stage must not run as root ---------------------------

bool IsRootSpec(const std::string& spec) {
  std::string user = spec.substr(0, spec.find(':'));
  return user == "root" || user == "0";
}

void CheckFinalUser(RuleContext& ctx) {
  const auto& stages = ctx.df.stages;
  if (stages.empty()) return;
  // Follow FROM <stage> so a USER set in the parent stage counts.
  int idx = static_cast<int>(stages.size()) - 1;
  const Stage& final_stage = stages[static_cast<size_t>(idx)];
  const Instruction* last_user = nullptr;
  std::set<int> seen;
  std::string external_base;  // the image the chain of stages starts from
  while (idx >= 0 && !seen.count(idx)) {
    seen.insert(idx);
    const Stage& st = stages[static_cast<size_t>(idx)];
    for (const auto& ins : st.instructions)
      if (std::holds_alternative<UserCmd>(ins.command)) last_user = &ins;
    if (last_user) break;
    const int parent = ctx.StageRef(st.from.image, idx);
    if (parent < 0) external_base = st.from.image;
    idx = parent;
  }
  const std::string base = final_stage.from.image;
  if (!last_user && !external_base.empty() && external_base != "scratch" && ctx.opts.base_user) {
    // No USER line: the stage runs as the base image's configured user.
    if (auto user = ctx.opts.base_user(external_base); user && !user->empty()) {
      const std::string name = user->substr(0, user->find(':'));
      std::optional<uint32_t> uid;
      if (!IsRootSpec(*user) && ctx.opts.user_uid) uid = ctx.opts.user_uid(external_base, name);
      if (!IsRootSpec(*user) && !(uid && *uid == 0)) return;
      ctx.Report("KL001", final_stage.location,
                 "final stage runs as root: it has no USER instruction and its base " + external_base +
                     " runs as " + *user + "; add `USER <non-root name or uid>` after the steps that need root");
      return;
    }
  }
  if (!last_user) {
    ctx.Report("KL001", final_stage.location,
               "final stage (FROM " + base + ") has no USER instruction and runs as root; "
               "add `USER <non-root name or uid>` (e.g. `USER 65532`) after the steps that need root");
    return;
  }
  const std::string& spec = std::get<UserCmd>(last_user->command).user;
  if (IsRootSpec(spec)) {
    ctx.Report("KL001", last_user->location,
               "final stage runs as root (USER " + spec + "); switch to a non-root user at the end of the stage");
    return;
  }
  if (ctx.opts.user_uid && spec.find('$') == std::string::npos) {
    std::string user = spec.substr(0, spec.find(':'));
    auto uid = ctx.opts.user_uid(base, user);
    if (uid && *uid == 0)
      ctx.Report("KL001", last_user->location,
                 "final stage runs as root: USER " + user + " has uid 0 in the base image's /etc/passwd");
  }
}

// --- KL002: credential-like ARG/ENV names with literal values --------------

void CheckSecretVar(RuleContext& ctx, const Location& where, std::string_view kind, std::string_view name,
                    std::string_view value) {
  if (!secret_rules::IsSecretAssignment(name, value)) return;
  ctx.Report("KL002", where,
             std::string(kind) + " " + std::string(name) + " sets a credential-like variable to a literal value, which stays in the image "
             "config/history; pass it at build time with `RUN --mount=type=secret,id=" + AsciiLower(name) +
             ",env=" + std::string(name) + "` instead");
}

void CheckSecretVars(RuleContext& ctx) {
  for (size_t i = 0; i < ctx.df.global_args.size(); ++i) {
    Location where = i < ctx.df.global_arg_locations.size() ? ctx.df.global_arg_locations[i] : Location{ctx.df.filename};
    for (const auto& a : ctx.df.global_args[i].args)
      if (a.value) CheckSecretVar(ctx, where, "ARG", a.name, *a.value);
  }
  for (const auto& st : ctx.df.stages) {
    for (const auto& ins : st.instructions) {
      if (const auto* arg = std::get_if<ArgCmd>(&ins.command)) {
        for (const auto& a : arg->args)
          if (a.value) CheckSecretVar(ctx, ins.location, "ARG", a.name, *a.value);
      } else if (const auto* env = std::get_if<EnvCmd>(&ins.command)) {
        for (const auto& kv : env->vars) CheckSecretVar(ctx, ins.location, "ENV", kv.key, kv.value);
      } else if (std::holds_alternative<RunCmd>(ins.command)) {
        // `RUN TOKEN=abc make` and `export TOKEN=abc` leave the value in history.
        for (const auto& cmd : ctx.Commands(ins)) {
          auto check = [&](std::string_view a) {
            auto eq = a.find('=');
            if (eq != std::string_view::npos) CheckSecretVar(ctx, ins.location, "RUN", a.substr(0, eq), a.substr(eq + 1));
          };
          for (std::string_view a : cmd.assignments) check(a);
          if (!cmd.words.empty() && cmd.words[0] == "export")
            for (std::string_view a : cmd.words.subspan(1)) check(a);
        }
      }
    }
  }
}

// --- KL003: literal secrets in known formats --------------------------------

void ScanForSecret(RuleContext& ctx, const Location& where, const std::string& keyword, std::string_view text) {
  if (const auto* format = secret_rules::FirstFormat(text))
    ctx.Report("KL003", where,
               keyword + " contains what looks like a " + std::string(format->description) + "; secrets in a Dockerfile end up in the image "
               "and its history: use `RUN --mount=type=secret` and rotate the credential");
}

void CheckSecretFormats(RuleContext& ctx) {
  for (size_t i = 0; i < ctx.df.global_args.size(); ++i) {
    Location where = i < ctx.df.global_arg_locations.size() ? ctx.df.global_arg_locations[i] : Location{ctx.df.filename};
    for (const auto& a : ctx.df.global_args[i].args)
      if (a.value) ScanForSecret(ctx, where, "ARG", *a.value);
  }
  for (const auto& st : ctx.df.stages) {
    for (const auto& ins : st.instructions) {
      const std::vector<Heredoc>* heredocs = nullptr;
      if (const auto* run = std::get_if<RunCmd>(&ins.command)) heredocs = &run->heredocs;
      if (const auto* cp = std::get_if<CopyCmd>(&ins.command)) heredocs = &cp->heredocs;
      if (!heredocs || heredocs->empty()) {
        ScanForSecret(ctx, ins.location, ins.keyword, ins.original);  // no copy: most instructions
        continue;
      }
      std::string text = ins.original;
      for (const auto& h : *heredocs) text += "\n" + h.content;
      ScanForSecret(ctx, ins.location, ins.keyword, text);
    }
  }
}

// --- KL004: credential files copied from the build context -----------------

std::string NormaliseSource(std::string s) {
  while (s.starts_with("./")) s.erase(0, 2);
  while (s.starts_with("/")) s.erase(0, 1);
  while (s.ends_with("/") && s.size() > 1) s.pop_back();
  if (s == "." || s.empty()) return "";
  return s;
}

// Does COPY source `src` (normalised, may be a glob) bring `file` along?
bool SourceCovers(const std::string& src, const std::string& file) {
  if (src.empty()) return true;  // the whole context
  if (file == src || file.starts_with(src + "/")) return true;
  if (src.find_first_of("*?[") == std::string::npos) return false;
  // A glob matches the file or one of its parent directories.
  std::string prefix = file;
  while (true) {
    if (fnmatch(src.c_str(), prefix.c_str(), FNM_PATHNAME) == 0) return true;
    auto slash = prefix.rfind('/');
    if (slash == std::string::npos) return false;
    prefix.resize(slash);
  }
}

void CheckSecretFiles(RuleContext& ctx) {
  // Walk the context only when something is copied from it.
  bool copies_from_context = false;
  for (const auto& st : ctx.df.stages)
    for (const auto& ins : st.instructions)
      if (const auto* cp = std::get_if<CopyCmd>(&ins.command); cp && cp->from.empty()) copies_from_context = true;
  std::vector<std::string> context_secrets;
  if (!ctx.opts.context_dir.empty() && copies_from_context)
    context_secrets = ctx.opts.context_scan && ctx.opts.context_scan->dir() == ctx.opts.context_dir
                          ? ctx.opts.context_scan->SecretFiles()
                          : ListContextSecretFiles(ctx.opts.context_dir, ctx.opts.excluded, ctx.opts.may_include_below);
  for (const auto& st : ctx.df.stages) {
    for (const auto& ins : st.instructions) {
      const auto* cp = std::get_if<CopyCmd>(&ins.command);
      if (!cp || !cp->from.empty()) continue;
      for (const auto& raw : cp->sources) {
        if (raw.starts_with("<<") || IsUrl(raw) || raw.find('$') != std::string::npos) continue;
        const std::string src = NormaliseSource(raw);
        std::vector<std::string> hits;
        if (ctx.opts.context_dir.empty()) {
          if (secret_rules::MatchCredentialFile(src)) hits.push_back(src);
        } else {
          for (const auto& f : context_secrets)
            if (SourceCovers(src, f)) hits.push_back(f);
        }
        if (hits.empty()) continue;
        std::string list;
        for (size_t i = 0; i < hits.size() && i < 5; ++i) list += (i ? ", " : "") + hits[i];
        if (hits.size() > 5) list += ", ...";
        ctx.Report("KL004", ins.location,
                   ins.keyword + " " + (raw.empty() ? "." : raw) + " copies credential file(s) into the image (" + list +
                   "); exclude them in .dockerignore and use `RUN --mount=type=secret` for what the build needs");
      }
    }
  }
}

// --- KL005: setuid/setgid bits ---------------------------------------------

// Mode sets setuid (bit 04000) or setgid (02000): "4755", "u+s", "g=rxs".
bool SetsSpecialBits(const std::string& mode, bool* setuid) {
  *setuid = false;
  if (!mode.empty() && std::all_of(mode.begin(), mode.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    if (mode.size() < 4) return false;
    int special = mode[mode.size() - 4] - '0';
    *setuid = special & 4;
    return special & 6;
  }
  // Symbolic: clauses separated by ',', each [ugoa]*([-+=][rwxXst]*)+
  bool any = false;
  size_t i = 0;
  while (i < mode.size()) {
    std::string who;
    while (i < mode.size() && std::string_view("ugoa").find(mode[i]) != std::string_view::npos) who += mode[i++];
    while (i < mode.size() && mode[i] != ',') {
      char op = mode[i++];
      std::string perms;
      while (i < mode.size() && std::string_view("-+=,").find(mode[i]) == std::string_view::npos) perms += mode[i++];
      if ((op == '+' || op == '=') && perms.find('s') != std::string::npos) {
        if (who.empty() || who.find_first_of("ua") != std::string::npos) *setuid = true;
        if (who.empty() || who.find_first_of("ga") != std::string::npos) any = true;
        if (*setuid) any = true;
      }
    }
    if (i < mode.size()) ++i;
  }
  return any;
}

void CheckSetuid(RuleContext& ctx) {
  for (const auto& st : ctx.df.stages) {
    std::set<std::string> made_dirs;  // mkdir'd in this stage: setgid there is the shared-group idiom
    for (const auto& ins : st.instructions) {
      if (const auto* cp = std::get_if<CopyCmd>(&ins.command)) {
        bool setuid = false;
        if (!cp->chmod.empty() && SetsSpecialBits(cp->chmod, &setuid))
          ctx.Report("KL005", ins.location,
                     ins.keyword + " --chmod=" + cp->chmod + " sets the set" + (setuid ? "uid" : "gid") +
                     " bit; setuid/setgid binaries let any user in the container gain their owner's privileges");
        continue;
      }
      if (!std::holds_alternative<RunCmd>(ins.command)) continue;
      for (const auto& cmd : ctx.Commands(ins)) {
        const std::string_view prog = cmd.Program();
        auto args = cmd.Args();
        if (prog == "mkdir") {
          for (std::string_view a : args)
            if (!a.starts_with("-")) made_dirs.insert(NormaliseSource(std::string(a)));
          continue;
        }
        std::string mode;
        std::vector<std::string> targets;
        if (prog == "chmod") {
          for (std::string_view a : args) {
            if (a.starts_with("-") && mode.empty() && a.size() > 1 && a.find_first_of("rwxXstugoa") != 1) continue;
            if (a.starts_with("--")) continue;
            if (mode.empty()) mode = a;
            else targets.push_back(NormaliseSource(std::string(a)));
          }
        } else if (prog == "install") {
          bool directory = false;
          for (size_t i = 0; i < args.size(); ++i) {
            if (i + 1 < args.size() && (args[i] == "-m" || args[i] == "--mode")) mode = args[i + 1];
            if (args[i] == "-d" || args[i] == "--directory") directory = true;
          }
          // `install -d --mode 3777 dir` makes a shared-group directory.
          bool dir_setuid = false;
          if (directory && !mode.empty() && SetsSpecialBits(mode, &dir_setuid) && !dir_setuid) continue;
          for (std::string_view a : args)
            if (a.starts_with("--mode=")) mode = a.substr(7);
        } else {
          continue;
        }
        bool setuid = false;
        if (mode.empty() || !SetsSpecialBits(mode, &setuid)) continue;
        if (!setuid && !targets.empty() &&
            std::all_of(targets.begin(), targets.end(), [&](const std::string& t) { return made_dirs.count(t) > 0; }))
          continue;
        ctx.Report("KL005", ins.location,
                   std::string(prog) + " " + mode + " sets the set" + std::string(setuid ? "uid" : "gid") +
                   " bit; setuid/setgid binaries let any user in the container gain their owner's privileges "
                   "(setgid on a directory created with mkdir in the same stage is accepted)");
      }
    }
  }
}

}  // namespace

void CheckSecurityRules(RuleContext& ctx) {
  CheckFinalUser(ctx);
  CheckSecretVars(ctx);
  CheckSecretFormats(ctx);
  CheckSecretFiles(ctx);
  CheckSetuid(ctx);
}

}  // namespace kiln::frontend::lint
