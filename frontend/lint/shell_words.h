// A light splitter of RUN shell text into simple commands and their words,
// for rules that look at what a RUN runs (apt-get, pip, curl | sh, sudo, cd,
// chmod ...). It is not a shell parser: it knows quoting, escapes, comments,
// the operators ; & && || | and newlines, and treats $(...)/`...` and
// subshell/brace groups as transparent. Good enough to find command words;
// rules must not rely on it for exact semantics.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend::lint {

struct ShellCommand {
  std::vector<std::string> words;  // quotes removed; leading VAR=value assignments dropped
  std::vector<std::string> assignments;  // leading VAR=value words, as written (unquoted)
  bool piped_in = false;   // stdin comes from a `|` before it
  bool piped_out = false;  // its stdout goes into a `|`
  // Index in `words` of the program, past wrappers and their options
  // (words.size() when there is none); SplitShell and FromArgv set it, once
  // for the many rules that ask.
  size_t program_index = 0;
  // The command an exec-form RUN runs: argv as the words.
  static ShellCommand FromArgv(std::vector<std::string> argv);
  // The program name without directory ("/usr/bin/apt-get" -> "apt-get"),
  // looking through wrappers such as sudo, env, nice, time, xargs, exec.
  std::string Program() const;
  // Words after the program (wrappers and their options skipped); a view
  // into `words`.
  std::span<const std::string> Args() const;
  // True when sudo/doas is among the wrappers or is the program.
  bool HasWord(std::string_view w) const;
};

// Splits `script` into commands in order. Never throws.
std::vector<ShellCommand> SplitShell(std::string_view script);

// Basename of a command word ("/usr/bin/pip3" -> "pip3").
std::string BaseName(std::string_view word);

}  // namespace kiln::frontend::lint
