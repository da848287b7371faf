#include "frontend/lint/shell_words.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace kiln::frontend::lint {
namespace {

bool IsAssignment(std::string_view w) {
  auto eq = w.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  if (!(std::isalpha(static_cast<unsigned char>(w[0])) || w[0] == '_')) return false;
  return std::all_of(w.begin(), w.begin() + static_cast<long>(eq),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Words that start a new command but are not programs themselves. Asked of
// every command's first word: compared by length first.
bool IsKeyword(std::string_view w) {
  switch (w.size()) {
    case 1: return w[0] == '!' || w[0] == '{' || w[0] == '}' || w[0] == '(' || w[0] == ')';
    case 2: return w == "if" || w == "fi" || w == "do" || w == "in";
    case 3: return w == "for";
    case 4: return w == "then" || w == "else" || w == "elif" || w == "done" || w == "case" || w == "esac";
    case 5: return w == "while" || w == "until";
    default: return false;
  }
}

// Wrapper programs whose first non-option argument is the real command.
bool IsWrapper(std::string_view w) {
  switch (w.size()) {
    case 3: return w == "env";
    case 4: return w == "sudo" || w == "doas" || w == "nice" || w == "exec" || w == "time";
    case 5: return w == "nohup" || w == "xargs";
    case 7: return w == "command";
    case 9: return w == "eatmydata";
    default: return false;
  }
}

size_t ProgramIndex(std::span<const std::string_view> words) {
  size_t i = 0;
  while (i < words.size()) {
    const std::string_view base = BaseName(words[i]);
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

// Characters the loop below treats specially somewhere; a run of any others
// is part of the current word.
constexpr auto kSpecial = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("\\'\"#$` \t\r\n;()&|><")) t[c] = true;
  return t;
}();
bool IsSpecial(char c) { return kSpecial[static_cast<unsigned char>(c)]; }

bool AllDigits(std::string_view w) {
  return std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A command while it is being split: its words are words[begin, end), the
// first `assignments` of them leading VAR=value words.
struct Pending {
  size_t begin = 0;
  size_t end = 0;
  size_t assignments = 0;
  bool piped_in = false;
  bool piped_out = false;
};

}  // namespace

std::string_view ShellCommand::Program() const {
  return program_index < words.size() ? BaseName(words[program_index]) : std::string_view();
}

std::span<const std::string_view> ShellCommand::Args() const {
  if (program_index >= words.size()) return {};
  return words.subspan(program_index + 1);
}

bool ShellCommand::HasWord(std::string_view w) const {
  return std::any_of(words.begin(), words.end(), [&](std::string_view x) { return BaseName(x) == w; });
}

ShellScript::ShellScript(const std::vector<std::string>& argv) {
  size_t total = 0;
  for (const auto& a : argv) total += a.size();
  text_.resize(total);
  size_t at = 0;
  for (const auto& a : argv) {
    std::memcpy(text_.data() + at, a.data(), a.size());
    words_.emplace_back(text_.data() + at, a.size());
    at += a.size();
  }
  ShellCommand c;
  c.words = words_;
  c.program_index = ProgramIndex(c.words);
  commands_.push_back(c);
}

ShellScript::ShellScript(std::string_view s) {
  // Unquoting only ever drops characters, so the words fit in a buffer the
  // size of the script and are written at `w` <= the read position `i`.
  text_.resize(s.size());
  char* const buf = text_.data();
  words_.reserve(s.size() / 4 + 4);  // a word and its blank take 4 bytes or more, nearly always
  size_t w = 0;        // write position
  size_t wstart = 0;   // start of the current word (== w between words)
  bool in_word = false;
  std::vector<Pending> pending;
  pending.reserve(s.size() / 16 + 2);
  Pending cur;
  bool next_piped_in = false;

  auto add_word = [&](std::string_view word) {
    const bool no_words = words_.size() == cur.begin + cur.assignments;
    if (no_words && IsKeyword(word)) return;  // `if`, `do`, `{` ... start a command of their own
    words_.push_back(word);
    if (no_words && IsAssignment(word)) ++cur.assignments;
  };
  auto end_word = [&] {
    if (!in_word) return;
    add_word(std::string_view(buf + wstart, w - wstart));
    wstart = w;
    in_word = false;
  };
  auto end_command = [&](bool pipe) {
    end_word();
    if (words_.size() > cur.begin) {
      cur.end = words_.size();
      cur.piped_in = next_piped_in;
      cur.piped_out = pipe;
      pending.push_back(cur);
      next_piped_in = pipe;
    } else {
      next_piped_in = next_piped_in && !pipe ? next_piped_in : pipe;
    }
    cur = Pending{words_.size()};
  };
  auto put_run = [&](size_t from, size_t to) {  // s[from, to) into the word
    std::memcpy(buf + w, s.data() + from, to - from);
    w += to - from;
    in_word = true;
  };
  // s[i] and the ordinary bytes after it into the word; returns the last
  // position taken.
  auto put_ordinary_run = [&](size_t i) {
    size_t end = i + 1;
    while (end < s.size() && !IsSpecial(s[end])) ++end;
    put_run(i, end);
    return end - 1;
  };

  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!IsSpecial(c)) {  // most bytes: copy the run of ordinary ones at once
      i = put_ordinary_run(i);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') { end_word(); continue; }
    if (c == '\\') {
      if (i + 1 < s.size() && s[i + 1] == '\n') { ++i; continue; }  // line continuation
      if (i + 1 < s.size()) { ++i; put_run(i, i + 1); }
      continue;
    }
    if (c == '\'') {
      auto close = s.find('\'', i + 1);
      if (close == std::string_view::npos) close = s.size();
      put_run(i + 1, close);
      i = close;
      continue;
    }
    if (c == '"') {
      in_word = true;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] != '\\') {  // up to the next quote or backslash at once
          size_t end = i + 1;
          while (end < s.size() && s[end] != '"' && s[end] != '\\') ++end;
          put_run(i, end);
          i = end - 1;
          continue;
        }
        if (i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$')) ++i;
        else if (i + 1 < s.size() && s[i + 1] == '\n') { ++i; continue; }
        put_run(i, i + 1);
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
      add_word("$(...)");
      ++i;
      continue;  // the inner text is split as if it followed the outer command
    }
    if (c == '`') { end_command(false); continue; }
    if (c == '\n' || c == ';') {
      if (c == ';' && i + 1 < s.size() && s[i + 1] == ';') ++i;
      end_command(false);
      continue;
    }
    if (c == '(' || c == ')') {
      if (c == '(' && in_word) { put_run(i, i + 1); continue; }  // e.g. arr=( or func()
      end_command(false);
      continue;
    }
    if (c == '&') {
      const bool has_words = words_.size() > cur.begin + cur.assignments;
      if (i + 1 < s.size() && s[i + 1] == '&') ++i;
      else if (in_word && w > wstart && (buf[w - 1] == '>' || buf[w - 1] == '<')) { put_run(i, i + 1); continue; }  // 2>&1
      else if (!in_word && has_words && i + 1 < s.size() && s[i + 1] == '>') { put_run(i, i + 1); continue; }
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
      if (words_.size() > cur.begin + cur.assignments && !words_.back().empty() && AllDigits(words_.back()) && i > 0 &&
          s[i - 1] != ' ')
        words_.pop_back();
      i = k - 1;
      continue;
    }
    // A special character in a place where it is not special (`#` inside a
    // word, `$` not starting `$(`): copy it and the ordinary ones after it.
    i = put_ordinary_run(i);
  }
  end_command(false);

  // words_ is complete: the spans can point into it now.
  commands_.reserve(pending.size());
  for (const Pending& p : pending) {
    ShellCommand c;
    c.assignments = std::span<const std::string_view>(words_).subspan(p.begin, p.assignments);
    c.words = std::span<const std::string_view>(words_).subspan(p.begin + p.assignments, p.end - p.begin - p.assignments);
    c.piped_in = p.piped_in;
    c.piped_out = p.piped_out;
    c.program_index = ProgramIndex(c.words);
    commands_.push_back(c);
  }
}

}  // namespace kiln::frontend::lint
