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

// One simple command; its words are views into the ShellScript it came from.
struct ShellCommand {
  std::span<const std::string_view> words;        // quotes removed; leading VAR=value assignments dropped
  std::span<const std::string_view> assignments;  // leading VAR=value words, as written (unquoted)
  bool piped_in = false;   // stdin comes from a `|` before it
  bool piped_out = false;  // its stdout goes into a `|`
  // Index in `words` of the program, past wrappers and their options
  // (words.size() when there is none); set once for the many rules that ask.
  size_t program_index = 0;
  // The program name without directory ("/usr/bin/apt-get" -> "apt-get"),
  // looking through wrappers such as sudo, env, nice, time, xargs, exec.
  std::string_view Program() const;
  // Words after the program (wrappers and their options skipped).
  std::span<const std::string_view> Args() const;
  // True when sudo/doas is among the wrappers or is the program.
  bool HasWord(std::string_view w) const;
};

// The commands of a script, and the storage their words view. A RUN's
// script is split once per lint and looked at by a dozen rules: one buffer
// for the unquoted text and one array of views, not a string per word.
// Neither copied nor moved, so the views stay valid.
class ShellScript {
 public:
  // Splits `script` into commands in order. Never throws on any input.
  explicit ShellScript(std::string_view script);
  // The one command an exec-form RUN runs: argv as the words.
  explicit ShellScript(const std::vector<std::string>& argv);
  ShellScript(const ShellScript&) = delete;
  ShellScript& operator=(const ShellScript&) = delete;

  const std::vector<ShellCommand>& commands() const { return commands_; }

 private:
  std::string text_;                      // unquoted words, written as found
  std::vector<std::string_view> words_;   // every command's words, then assignments
  std::vector<ShellCommand> commands_;
};

// Basename of a command word ("/usr/bin/pip3" -> "pip3").
inline std::string_view BaseName(std::string_view word) {
  auto slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

}  // namespace kiln::frontend::lint
