#include "frontend/lint/shell_words.h"

#include <algorithm>
#include <cctype>

namespace kiln::frontend::lint {
namespace {

bool IsAssignment(std::string_view w) {
  auto eq = w.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  if (!(std::isalpha(static_cast<unsigned char>(w[0])) || w[0] == '_')) return false;
  return std::all_of(w.begin(), w.begin() + static_cast<long>(eq),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Words that start a new command but are not programs themselves.
bool IsKeyword(std::string_view w) {
  static constexpr std::string_view kWords[] = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                                                "!", "{", "}", "(", ")", "case", "esac", "for", "in"};
  return std::find(std::begin(kWords), std::end(kWords), w) != std::end(kWords);
}

// Wrapper programs whose first non-option argument is the real command.
bool IsWrapper(std::string_view w) {
  return w == "sudo" || w == "doas" || w == "env" || w == "nice" || w == "exec" || w == "command" ||
         w == "nohup" || w == "time" || w == "xargs" || w == "eatmydata";
}

// BaseName without the copy, for the per-word checks below.
std::string_view BaseNameView(std::string_view word) {
  auto slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

size_t ProgramIndex(const std::vector<std::string>& words) {
  size_t i = 0;
  while (i < words.size()) {
    const std::string_view base = BaseNameView(words[i]);
    if (!IsWrapper(base)) return i;
    ++i;
    // Skip the wrapper's options and, for env, its assignments. `sudo -u x`
    // takes a value; the other wrappers' options we see in Dockerfiles don't.
    while (i < words.size() && (words[i].starts_with("-") || (base == "env" && IsAssignment(words[i])))) {
      if (base == "sudo" && (words[i] == "-u" || words[i] == "-g") && i + 1 < words.size()) ++i;
      ++i;
    }
  }
  return words.size();
}

// Characters the loop in SplitShell treats specially somewhere; a run of any
// others is part of the current word.
bool IsSpecial(char c) {
  switch (c) {
    case '\\': case '\'': case '"': case '#': case '$': case '`': case ' ': case '\t': case '\r': case '\n':
    case ';': case '(': case ')': case '&': case '|': case '>': case '<':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string BaseName(std::string_view word) { return std::string(BaseNameView(word)); }

ShellCommand ShellCommand::FromArgv(std::vector<std::string> argv) {
  ShellCommand c;
  c.words = std::move(argv);
  c.program_index = ProgramIndex(c.words);
  return c;
}

std::string ShellCommand::Program() const {
  return program_index < words.size() ? BaseName(words[program_index]) : std::string();
}

std::span<const std::string> ShellCommand::Args() const {
  if (program_index >= words.size()) return {};
  return std::span<const std::string>(words).subspan(program_index + 1);
}

bool ShellCommand::HasWord(std::string_view w) const {
  return std::any_of(words.begin(), words.end(), [&](const std::string& x) { return BaseNameView(x) == w; });
}

std::vector<ShellCommand> SplitShell(std::string_view s) {
  std::vector<ShellCommand> out;
  ShellCommand cur;
  std::string word;
  bool in_word = false;
  bool next_piped_in = false;

  auto end_word = [&] {
    if (!in_word) return;
    if (cur.words.empty() && IsKeyword(word)) {
      // `if`, `do`, `{` ... start a command of their own; drop the keyword.
    } else if (cur.words.empty() && IsAssignment(word)) {
      cur.assignments.push_back(word);
    } else {
      cur.words.push_back(word);
    }
    word.clear();
    in_word = false;
  };
  auto end_command = [&](bool pipe) {
    end_word();
    if (!cur.words.empty() || !cur.assignments.empty()) {
      cur.piped_in = next_piped_in;
      cur.piped_out = pipe;
      cur.program_index = ProgramIndex(cur.words);
      out.push_back(std::move(cur));
      next_piped_in = pipe;
    } else {
      next_piped_in = next_piped_in && !pipe ? next_piped_in : pipe;
    }
    cur = ShellCommand{};
  };

  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < s.size() && s[i + 1] == '\n') { ++i; continue; }  // line continuation
      if (i + 1 < s.size()) { word += s[++i]; in_word = true; }
      continue;
    }
    if (c == '\'') {
      auto close = s.find('\'', i + 1);
      if (close == std::string_view::npos) close = s.size();
      word.append(s.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
      continue;
    }
    if (c == '"') {
      in_word = true;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] != '\\') {  // up to the next quote or backslash at once
          size_t end = i + 1;
          while (end < s.size() && s[end] != '"' && s[end] != '\\') ++end;
          word.append(s.substr(i, end - i));
          i = end - 1;
          continue;
        }
        if (i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$')) ++i;
        else if (i + 1 < s.size() && s[i + 1] == '\n') { ++i; continue; }
        word += s[i];
      }
      continue;
    }
    if (c == '#' && !in_word) {
      while (i < s.size() && s[i] != '\n') ++i;
      end_command(false);
      continue;
    }
    if (c == '$' && i + 1 < s.size() && s[i + 1] == '(' && !(i + 2 < s.size() && s[i + 2] == '(')) {
      // Command substitution: its content is a command list of its own; the
      // outer word keeps a placeholder so it still counts as one word.
      end_word();
      word = "$(...)";
      in_word = true;
      end_word();
      ++i;
      continue;  // the inner text is split as if it followed the outer command
    }
    if (c == '`') { end_command(false); continue; }
    if (c == ' ' || c == '\t' || c == '\r') { end_word(); continue; }
    if (c == '\n' || c == ';') {
      if (c == ';' && i + 1 < s.size() && s[i + 1] == ';') ++i;
      end_command(false);
      continue;
    }
    if (c == '(' || c == ')') {
      if (c == '(' && in_word) { word += c; continue; }  // e.g. arr=( or func()
      end_command(false);
      continue;
    }
    if (c == '&') {
      if (i + 1 < s.size() && s[i + 1] == '&') ++i;
      else if (in_word && (word.back() == '>' || word.back() == '<')) { word += c; continue; }  // 2>&1
      else if (!in_word && !cur.words.empty() && i + 1 < s.size() && s[i + 1] == '>') { word += c; in_word = true; continue; }
      end_command(false);
      continue;
    }
    if (c == '|') {
      if (i + 1 < s.size() && s[i + 1] == '|') { ++i; end_command(false); continue; }
      end_command(true);
      continue;
    }
    if (c == '>' || c == '<') {
      // Redirections: drop the operator and its target from the words.
      end_word();
      size_t j = i + 1;
      while (j < s.size() && (s[j] == '>' || s[j] == '&' || s[j] == '<')) ++j;
      if (j < s.size() && s[j] == '(') { i = j; end_command(false); continue; }  // process substitution
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      size_t k = j;
      while (k < s.size() && !std::isspace(static_cast<unsigned char>(s[k])) && s[k] != ';' && s[k] != '&' &&
             s[k] != '|' && s[k] != ')')
        ++k;
      // A trailing fd number glued to the operator ("2>") was part of the word.
      if (!cur.words.empty() && !cur.words.back().empty() &&
          std::all_of(cur.words.back().begin(), cur.words.back().end(), ::isdigit) && i > 0 && s[i - 1] != ' ')
        cur.words.pop_back();
      i = k - 1;
      continue;
    }
    // An ordinary character: copy it and the ordinary ones after it at once.
    size_t end = i + 1;
    while (end < s.size() && !IsSpecial(s[end])) ++end;
    word.append(s.substr(i, end - i));
    in_word = true;
    i = end - 1;
  }
  end_command(false);
  return out;
}

}  // namespace kiln::frontend::lint
