// Rules about the shell script of RUN (KL3xx).
#include <algorithm>
#include <set>

#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {
namespace {

bool IsPosixShell(std::string_view p) {
  return p == "sh" || p == "bash" || p == "ash" || p == "dash" || p == "zsh" || p == "ksh" || p == "mksh";
}

// Does a `set` command (or SHELL argv) turn pipefail on?
template <typename Word>
bool EnablesPipefail(std::span<const Word> words) {
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (w == "pipefail" && i > 0 && words[i - 1].starts_with("-") && words[i - 1].ends_with("o")) return true;
  }
  return false;
}

bool ShellHasPipefail(const std::vector<std::string>& shell) {
  if (shell.empty()) return false;
  if (!IsPosixShell(BaseName(shell[0]))) return true;  // pwsh, cmd: no POSIX pipe semantics to fix
  return EnablesPipefail(std::span<const std::string>(shell));
}

bool IsInterpreter(std::string_view p) {
  return IsPosixShell(p) || p.starts_with("python") || p == "perl" || p == "ruby" || p == "node" || p == "php";
}

// What /bin/sh is in a base image, guessed from its name: Debian and Ubuntu
// (and the official images built on them) have dash, which rejects
// `set -o pipefail`; Alpine and busybox have ash, which takes it.
enum class BinSh { kUnknown, kDash, kAsh, kBash };

BinSh GuessBinSh(std::string_view image) {
  std::string name(image);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view ash : {"alpine", "busybox"})
    if (name.find(ash) != std::string::npos) return BinSh::kAsh;
  const std::string_view repo = BaseName(std::string_view(name).substr(0, name.find_first_of(":@")));
  for (std::string_view dash : {"debian", "ubuntu", "buildpack-deps"})
    if (repo == dash) return BinSh::kDash;
  for (std::string_view release : {"bookworm", "bullseye", "buster", "trixie", "jammy", "focal", "noble"})
    if (name.find(release) != std::string::npos) return BinSh::kDash;
  return BinSh::kUnknown;
}

// KL300's advice for a RUN whose shell is `shell` (SHELL's argv, empty =
// /bin/sh) in a stage built on `base`, as hadolint's DL4006 reasons.
std::string PipefailAdvice(const std::vector<std::string>& shell, const std::string& base, const LintOptions& opts) {
  const std::string_view prog = shell.empty() ? "sh" : BaseName(shell[0]);
  BinSh bin_sh = prog == "dash" ? BinSh::kDash : BinSh::kUnknown;
  if (prog == "sh") {
    // The base's real /bin/sh when the caller can read the image (the build gate can).
    std::optional<std::string> real;
    if (opts.base_bin_sh && !base.empty() && base != "scratch") real = opts.base_bin_sh(base);
    if (real && *real == "dash") bin_sh = BinSh::kDash;
    else if (real && (*real == "busybox" || *real == "ash")) bin_sh = BinSh::kAsh;
    else if (real && *real == "bash") bin_sh = BinSh::kBash;
    else bin_sh = GuessBinSh(base);
  }
  const std::string use_bash = "add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]`";
  if (prog != "sh" && prog != "dash")
    return "add `-o pipefail` to SHELL (`SHELL [\"" + (shell.empty() ? std::string() : shell[0]) +
           "\", \"-o\", \"pipefail\", \"-c\"]`) or start the script with `set -o pipefail &&`";
  switch (bin_sh) {
    case BinSh::kDash:
      return use_bash + " (/bin/sh is dash here, which rejects `set -o pipefail`)";
    case BinSh::kAsh:
      return "start the script with `set -o pipefail &&` (/bin/sh is busybox ash here, which has it) or "
             "add `SHELL [\"/bin/ash\", \"-o\", \"pipefail\", \"-c\"]`";
    case BinSh::kBash:
      return "start the script with `set -o pipefail &&` (/bin/sh is bash here) or " + use_bash;
    case BinSh::kUnknown:
      break;
  }
  return use_bash + " where the image has bash; `set -o pipefail &&` works only where /bin/sh is bash or "
         "busybox ash (Debian's dash rejects it)";
}

// The image a stage's chain of FROM <stage> starts from.
std::string ExternalBase(const RuleContext& ctx, size_t stage_index) {
  int idx = static_cast<int>(stage_index);
  std::set<int> seen;
  std::string image;
  while (idx >= 0 && seen.insert(idx).second) {
    image = ctx.df.stages[static_cast<size_t>(idx)].from.image;
    idx = ctx.StageRef(image, idx);
  }
  return image;
}

}  // namespace

void CheckShellRules(RuleContext& ctx) {
  for (size_t stage_index = 0; stage_index < ctx.df.stages.size(); ++stage_index) {
    const Stage& stage = ctx.df.stages[stage_index];
    const std::string base = ExternalBase(ctx, stage_index);
    std::vector<std::string> shell;  // SHELL's argv; empty = the default /bin/sh -c
    bool shell_pipefail = false;
    bool uses_curl = false, uses_wget = false;
    const Instruction* downloader_second = nullptr;
    const Instruction* prev_run = nullptr;
    for (const auto& ins : stage.instructions) {
      if (const auto* sh = std::get_if<ShellCmd>(&ins.command)) {
        shell_pipefail = ShellHasPipefail(sh->args);
        shell = sh->args;
        prev_run = nullptr;
        continue;
      }
      const auto* run = std::get_if<RunCmd>(&ins.command);
      if (!run) {
        prev_run = nullptr;
        continue;
      }
      const auto& cmds = ctx.Commands(ins);
      const Location& at = ins.location;
      // KL309: consecutive RUNs with the same flags that each do little.
      if (prev_run) {
        const auto& prev = std::get<RunCmd>(prev_run->command);
        auto same_flags = prev.mounts.size() == run->mounts.size() && prev.network == run->network &&
                          prev.security == run->security && prev.mounts.empty();
        if (same_flags && ctx.Commands(*prev_run).size() <= 2 && cmds.size() <= 2 && run->shell_form && prev.shell_form)
          ctx.Report("KL309", at, "consecutive RUN instructions (lines " + std::to_string(prev_run->location.line) + " and " +
                                      std::to_string(at.line) + ") could be one RUN joined with &&, saving a layer");
      }
      prev_run = &ins;
      bool pipefail = shell_pipefail || !run->shell_form;
      bool reported_pipe = false, reported_cd = false, reported_sudo = false;
      std::set<std::string> reported_interactive;
      for (size_t i = 0; i < cmds.size(); ++i) {
        const auto& c = cmds[i];
        const std::string_view p = c.Program();
        const std::string prog(p);  // for messages
        const auto args = c.Args();
        if (p == "set" && EnablesPipefail(c.words)) pipefail = true;
        if (c.piped_out && !pipefail && !reported_pipe && run->shell_form) {
          ctx.Report("KL300", at, "RUN uses a pipe but the shell has no `-o pipefail`: a failure on the left of `|` is ignored; " +
                                      PipefailAdvice(shell, base, ctx.opts));
          reported_pipe = true;
        }
        if ((p == "curl" || p == "wget") && c.piped_out && i + 1 < cmds.size() && cmds[i + 1].piped_in) {
          const std::string next(cmds[i + 1].Program());
          if (IsInterpreter(next) || (cmds[i + 1].words.size() > 0 && (BaseName(cmds[i + 1].words[0]) == "sudo") && IsInterpreter(next)))
            ctx.Report("KL301", at, prog + " output is piped straight into " + next +
                                        ": the downloaded script runs unverified; download it, check its checksum, then run it");
        }
        if ((c.HasWord("sudo") || p == "sudo") && !reported_sudo) {
          ctx.Report("KL302", at, "sudo in RUN: builds already run as the current USER; use USER to switch, or gosu/su-exec at runtime");
          reported_sudo = true;
        }
        if (p == "cd" && !reported_cd) {
          ctx.Report("KL303", at, "cd in RUN only lasts for that RUN; use WORKDIR to set the directory for later instructions");
          reported_cd = true;
        }
        static const std::set<std::string> kInteractive = {"free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim"};
        if (kInteractive.count(prog) && !reported_interactive.count(prog)) {
          ctx.Report("KL304", at, prog + " makes no sense during an image build (no services or terminal there)");
          reported_interactive.insert(prog);
        }
        if (p == "ln" && !args.empty()) {
          const std::string_view last = args.back();
          if (last == "/bin/sh")
            ctx.Report("KL305", at, "RUN replaces /bin/sh; use the SHELL instruction to change the shell for RUN");
        }
        if (p == "curl") uses_curl = true;
        if (p == "wget") {
          uses_wget = true;
          bool quiet = false;
          for (const auto& a : args)
            if (a.starts_with("--progress") || a == "-q" || a == "--quiet" || a == "-nv" || a == "--no-verbose" ||
                a == "-o" || a.starts_with("--output-file") || a == "-a" || a.starts_with("--append-output") ||
                (a.size() > 1 && a[0] == '-' && a[1] != '-' && a.find('q') != std::string::npos))
              quiet = true;
          if (!quiet) ctx.Report("KL307", at, "wget without --progress=dot:giga or -q floods the build log with progress bars");
        }
        if ((p == "curl" || p == "wget") && uses_curl && uses_wget && !downloader_second) {
          downloader_second = &ins;
          ctx.Report("KL306", at, "the stage uses both curl and wget; pick one so the image needs only one of them");
        }
        if (p == "useradd") {
          bool no_log_init = false;
          std::string uid;
          for (size_t k = 0; k < args.size(); ++k) {
            if (args[k] == "-l" || args[k] == "--no-log-init") no_log_init = true;
            else if (args[k].size() > 1 && args[k][0] == '-' && args[k][1] != '-' && args[k].find('l') != std::string::npos)
              no_log_init = true;
            if ((args[k] == "-u" || args[k] == "--uid") && k + 1 < args.size()) uid = args[k + 1];
            if (args[k].starts_with("--uid=")) uid = args[k].substr(6);
          }
          if (!no_log_init && uid.size() > 5 && std::all_of(uid.begin(), uid.end(), ::isdigit))
            ctx.Report("KL308", at, "useradd -u " + uid + " without -l/--no-log-init creates a huge sparse /var/log/lastlog");
        }
      }
    }
  }
}

}  // namespace kiln::frontend::lint
