#include "frontend/lint/shellcheck.h"

#include <nlohmann/json.hpp>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "frontend/error.h"
#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {
namespace {

// A temporary file holding the script; removed on destruction.
class TempScript {
 public:
  explicit TempScript(const std::string& content) {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln-lint-XXXXXX";
    int fd = mkstemp(path_.data());
    if (fd < 0) throw Error(Location{path_}, std::string("cannot create temporary file: ") + std::strerror(errno));
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = write(fd, content.data() + off, content.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        close(fd);
        unlink(path_.c_str());
        throw Error(Location{path_}, std::string("cannot write temporary file: ") + std::strerror(err));
      }
      off += static_cast<size_t>(n);
    }
    close(fd);
  }
  ~TempScript() { unlink(path_.c_str()); }
  TempScript(const TempScript&) = delete;
  TempScript& operator=(const TempScript&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct PipeCloser {
  void operator()(FILE* f) const { pclose(f); }
};

}  // namespace

std::optional<std::string> ShellcheckPath() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    std::string p = dir + "/shellcheck";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

std::vector<ShellcheckFinding> RunShellcheck(const std::string& script, const std::string& shell) {
  auto exe = ShellcheckPath();
  if (!exe) throw Error(Location{}, "shellcheck is not installed");
  if (shell != "sh" && shell != "bash" && shell != "dash" && shell != "ksh") return {};
  TempScript file(script);
  // popen, not sandbox::Subprocess: frontend/ links nothing below it (its
  // README), and this optional lint pass is its one child process. Moving it
  // means the builder handing the linter a script runner.
  // Paths contain no shell metacharacters: PATH entries are ours to trust,
  // the temp name is [A-Za-z0-9/_-].
  std::string cmd = "'" + *exe + "' -f json1 -s " + shell + " -e SC1090,SC1091,SC2187,SC2154 " + file.path() + " 2>/dev/null";
  std::unique_ptr<FILE, PipeCloser> pipe(popen(cmd.c_str(), "r"));
  if (!pipe) throw Error(Location{}, std::string("cannot run shellcheck: ") + std::strerror(errno));
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe.get())) > 0;) out.append(buf, n);
  std::vector<ShellcheckFinding> findings;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out);
    for (const auto& c : j.at("comments")) {
      findings.push_back({"SC" + std::to_string(c.at("code").get<int>()), c.at("level").get<std::string>(),
                          c.at("message").get<std::string>(), c.at("line").get<int>(), c.at("column").get<int>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(Location{}, std::string("unexpected shellcheck output: ") + e.what());
  }
  return findings;
}

void CheckShellcheck(RuleContext& ctx) {
  if (!ShellcheckPath()) return;
  for (const auto& st : ctx.df.stages) {
    std::string shell = "sh";
    for (const auto& ins : st.instructions) {
      if (const auto* sh = std::get_if<ShellCmd>(&ins.command)) {
        shell = sh->args.empty() ? "sh" : BaseName(sh->args[0]);
        continue;
      }
      const auto* run = std::get_if<RunCmd>(&ins.command);
      if (!run || !run->shell_form) continue;
      std::string joined;
      for (const auto& f : RunShellcheck(std::string(RuleContext::Script(*run, joined)), shell)) {
        Location at = ins.location;
        Finding finding{f.code,
                        f.level == "error" ? Severity::kError : f.level == "warning" ? Severity::kWarning : Severity::kInfo,
                        f.message + " (script line " + std::to_string(f.line) + ")", at};
        if (finding.location.file.empty()) finding.location.file = ctx.df.filename;
        if (finding.location.column == 0) finding.location.column = 1;
        ctx.findings.push_back(std::move(finding));
      }
    }
  }
}

}  // namespace kiln::frontend::lint
