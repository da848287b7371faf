// Word expansion with BuildKit's shell-lexer semantics (shell/lex.go). The
// input is walked rune by rune; ${V#p}-style patterns use a small memoised
// backtracking matcher that reproduces Go regexp's leftmost-first choice
// for the `.*` / `.*?` patterns BuildKit compiles them to.
#include "frontend/shell_lex.h"

#include <stdexcept>

#include "frontend/shell_pattern.h"
#include "frontend/text_util.h"

namespace kiln::frontend {
namespace {

constexpr char32_t kEof = static_cast<char32_t>(-1);

class LexError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string RuneString(char32_t ch) {
  std::string s;
  AppendRune(s, ch == kEof ? kRuneError : ch);
  return s;
}

// Accumulates the field-split words (BuildKit's wordsStruct).
struct Words {
  std::string word;
  std::vector<std::string> words;
  bool in_word = false;

  void AddChar(char32_t ch) {
    if (IsSpaceRune(ch)) {
      if (in_word && !word.empty()) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else {
      AddRawChar(ch);
    }
  }
  void AddRawChar(char32_t ch) {
    AppendRune(word, ch);
    in_word = true;
  }
  void AddString(std::string_view s) {
    size_t pos = 0;
    while (pos < s.size()) {
      size_t w;
      AddChar(DecodeRune(s, pos, &w));
      pos += w;
    }
  }
  void AddRawString(std::string_view s) {
    word.append(s);
    in_word = true;
  }
  std::vector<std::string> Take() {
    if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
      in_word = false;
    }
    return std::move(words);
  }
};

class ShellWord {
 public:
  ShellWord(const ShellLex& lex, std::string_view src, const ShellLex::Lookup& env, ShellLex::Matches* matches)
      : lex_(lex), src_(src), env_(env), matches_(matches), raw_escapes_(lex.raw_escapes) {}

  std::string ProcessStopOn(char32_t stop, bool raw_escapes, std::vector<std::string>* words_out) {
    std::string result;
    Words words;
    const bool saved = raw_escapes_;
    raw_escapes_ = raw_escapes;
    const char32_t escape = static_cast<unsigned char>(lex_.escape());
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (stop != kEof && ch == stop) {
        Next();
        raw_escapes_ = saved;
        if (words_out) *words_out = words.Take();
        return result;
      }
      if (ch == '$' || ch == '<' || (!lex_.skip_process_quotes && (ch == '\'' || ch == '"'))) {
        std::string tmp;
        if (ch == '$') {
          tmp = ProcessDollar();
        } else if (ch == '<') {
          tmp = ProcessPossibleHeredoc();
        } else if (ch == '\'') {
          tmp = ProcessSingleQuote();
        } else {
          tmp = ProcessDoubleQuote();
        }
        result += tmp;
        if (ch == '$') {
          words.AddString(tmp);
        } else {
          words.AddRawString(tmp);
        }
        continue;
      }
      ch = Next();
      if (ch == escape) {
        if (raw_escapes_) {
          words.AddRawChar(ch);
          AppendRune(result, ch);
        }
        ch = Next();
        if (ch == kEof) break;
        words.AddRawChar(ch);
      } else {
        words.AddChar(ch);
      }
      AppendRune(result, ch);
    }
    raw_escapes_ = saved;
    if (stop != kEof) {
      throw LexError("unexpected end of statement while looking for matching " + RuneString(stop));
    }
    if (words_out) *words_out = words.Take();
    return result;
  }

 private:
  char32_t Peek() {
    if (pos_ >= src_.size()) return kEof;
    size_t w;
    return DecodeRune(src_, pos_, &w);
  }
  char32_t Next() {
    if (pos_ >= src_.size()) return kEof;
    size_t w;
    char32_t ch = DecodeRune(src_, pos_, &w);
    pos_ += w;
    return ch;
  }

  std::string ProcessSingleQuote() {
    std::string result;
    char32_t ch = Next();
    if (lex_.raw_quotes) AppendRune(result, ch);
    while (true) {
      ch = Next();
      if (ch == kEof) throw LexError("unexpected end of statement while looking for matching single-quote");
      if (ch == '\'') {
        if (lex_.raw_quotes) AppendRune(result, ch);
        return result;
      }
      AppendRune(result, ch);
    }
  }

  std::string ProcessDoubleQuote() {
    std::string result;
    char32_t ch = Next();
    if (lex_.raw_quotes) AppendRune(result, ch);
    const char32_t escape = static_cast<unsigned char>(lex_.escape());
    while (true) {
      char32_t peek = Peek();
      if (peek == kEof) throw LexError("unexpected end of statement while looking for matching double-quote");
      if (peek == '"') {
        ch = Next();
        if (lex_.raw_quotes) AppendRune(result, ch);
        return result;
      }
      if (peek == '$') {
        result += ProcessDollar();
        continue;
      }
      ch = Next();
      if (ch == escape) {
        if (raw_escapes_) AppendRune(result, ch);
        char32_t after = Peek();
        if (after == kEof) continue;  // dropped; the loop then reports the missing quote
        if (after == '"' || after == '$' || after == escape) ch = Next();
      }
      AppendRune(result, ch);
    }
  }

  std::string ProcessPossibleHeredoc() {
    Next();
    if (Peek() != '<') return "<";
    Next();
    // `<<  EOF` and `<<- EOF` stay one word so heredoc detection sees the delimiter.
    std::string result = "<<";
    if (Peek() == '-') AppendRune(result, Next());
    while (Peek() == ' ' || Peek() == '\t') AppendRune(result, Next());
    return result;
  }

  static bool IsSpecialParam(char32_t ch) {
    switch (ch) {
      case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
        return true;
      default:
        return false;
    }
  }

  std::string ProcessName() {
    std::string name;
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (name.empty() && IsDigitRune(ch)) {
        while (Peek() != kEof && IsDigitRune(Peek())) AppendRune(name, Next());
        return name;
      }
      if (name.empty() && IsSpecialParam(ch)) {
        Next();
        return RuneString(ch);
      }
      if (!IsLetterRune(ch) && !IsDigitRune(ch) && ch != '_') break;
      AppendRune(name, Next());
    }
    return name;
  }

  std::optional<std::string> GetEnv(const std::string& name) {
    std::optional<std::string> v = env_ ? env_(name) : std::nullopt;
    if (matches_) (v ? matches_->matched : matches_->unmatched).insert(name);
    return v;
  }

  std::string ProcessDollar() {
    Next();
    if (Peek() != '{') {
      std::string name = ProcessName();
      if (name.empty()) return "$";
      auto value = GetEnv(name);
      if (!value && lex_.skip_unset_env) return "$" + name;
      return value.value_or("");
    }
    Next();
    switch (Peek()) {
      case kEof:
        throw LexError("syntax error: missing '}'");
      case '{': case '}': case ':':
        throw LexError("syntax error: bad substitution");
      default:
        break;
    }
    std::string name = ProcessName();
    char32_t ch = Next();
    std::string chs = RuneString(ch);
    bool null_is_unset = false;

    if (ch == '}') {
      auto value = GetEnv(name);
      if (!value && lex_.skip_unset_env) return "${" + name + "}";
      return value.value_or("");
    }
    if (ch == ':') {
      null_is_unset = true;
      ch = Next();
      chs += RuneString(ch);
    } else if (ch == '/') {
      return ProcessReplace(name);
    } else if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%') {
      throw LexError("unsupported modifier (" + chs + ") in substitution");
    }

    if (null_is_unset && (ch == '#' || ch == '%')) {
      throw LexError("unsupported modifier (" + chs + ") in substitution");
    }
    std::string word;
    try {
      word = ProcessStopOn('}', ch == '#' || ch == '%', nullptr);
    } catch (const LexError&) {
      if (Peek() == kEof) throw LexError("syntax error: missing '}'");
      throw;
    }
    auto value = GetEnv(name);
    if (!value && lex_.skip_unset_env) return "${" + name + chs + word + "}";
    const bool empty_or_unset = !value || (null_is_unset && value->empty());
    switch (ch) {
      case '-':
        return empty_or_unset ? word : *value;
      case '+':
        return empty_or_unset ? std::string() : word;
      case '?':
        if (!value) throw LexError(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        if (null_is_unset && value->empty()) {
          throw LexError(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
        }
        return *value;
      case '%':
      case '#': {
        bool greedy = false;
        if (!word.empty() && static_cast<unsigned char>(word[0]) == ch) {
          greedy = true;
          word.erase(0, 1);
        }
        try {
          const std::string v = value.value_or("");
          return ch == '%' ? TrimShellSuffix(word, v, greedy) : TrimShellPrefix(word, v, greedy);
        } catch (const std::invalid_argument& e) {
          throw LexError("invalid pattern (" + word + ") in substitution: " + e.what());
        }
      }
      default:
        throw LexError("unsupported modifier (" + chs + ") in substitution");
    }
  }

  std::string ProcessReplace(const std::string& name) {
    bool replace_all = Peek() == '/';
    if (replace_all) Next();
    std::string pattern, replacement;
    try {
      pattern = ProcessStopOn('/', true, nullptr);
    } catch (const LexError&) {
      if (Peek() == kEof) throw LexError("syntax error: missing '/' in ${}");
      throw;
    }
    try {
      replacement = ProcessStopOn('}', true, nullptr);
    } catch (const LexError&) {
      if (Peek() == kEof) throw LexError("syntax error: missing '}'");
      throw;
    }
    auto value = GetEnv(name);
    if (!value && lex_.skip_unset_env) return "${" + name + "/" + pattern + "/" + replacement + "}";
    try {
      return ReplaceShellPattern(value.value_or(""), pattern, replacement, replace_all);
    } catch (const std::invalid_argument& e) {
      throw LexError("invalid pattern (" + pattern + ") in substitution: " + e.what());
    }
  }

  const ShellLex& lex_;
  std::string_view src_;
  const ShellLex::Lookup& env_;
  ShellLex::Matches* matches_;
  size_t pos_ = 0;
  bool raw_escapes_;
};

std::string Run(const ShellLex& lex, std::string_view word, const ShellLex::Lookup& env,
                ShellLex::Matches* matches, std::vector<std::string>* words) {
  ShellWord sw(lex, word, env, matches);
  try {
    return sw.ProcessStopOn(kEof, lex.raw_escapes, words);
  } catch (const LexError& e) {
    throw std::runtime_error("failed to process " + GoQuote(word) + ": " + e.what());
  }
}

}  // namespace

std::string ShellLex::ProcessWord(std::string_view word, const Lookup& env) const {
  return Run(*this, word, env, nullptr, nullptr);
}

std::string ShellLex::ProcessWord(std::string_view word, const std::map<std::string, std::string>& env) const {
  Lookup lookup = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return Run(*this, word, lookup, nullptr, nullptr);
}

std::vector<std::string> ShellLex::ProcessWords(std::string_view word, const Lookup& env) const {
  std::vector<std::string> words;
  Run(*this, word, env, nullptr, &words);
  return words;
}

std::string ShellLex::ProcessWordWithMatches(std::string_view word, const Lookup& env, Matches* out) const {
  return Run(*this, word, env, out, nullptr);
}

std::vector<std::string> ShellLex::ProcessWordsWithMatches(std::string_view word, const Lookup& env,
                                                           Matches* out) const {
  std::vector<std::string> words;
  Run(*this, word, env, out, &words);
  return words;
}

std::string UnquoteWord(std::string_view w, char escape) {
  std::string out;
  size_t i = 0;
  while (i < w.size()) {
    char c = w[i];
    if (c == '\'') {
      size_t close = w.find('\'', i + 1);
      if (close == std::string_view::npos) throw std::runtime_error("unexpected end of statement while looking for matching single-quote");
      out.append(w.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      ++i;
      bool closed = false;
      while (i < w.size()) {
        char d = w[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == escape && i + 1 < w.size()) {
          char n = w[i + 1];
          // Inside double quotes the escape only escapes ", $ and itself.
          if (n == '"' || n == '$' || n == escape) {
            out += n;
            i += 2;
            continue;
          }
        }
        out += d;
        ++i;
      }
      if (!closed) throw std::runtime_error("unexpected end of statement while looking for matching double-quote");
    } else if (c == escape) {
      if (i + 1 < w.size()) out += w[i + 1];
      i += 2;  // a lone escape at the end of the word is dropped
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string EscapeWord(std::string_view literal, char escape) {
  std::string out;
  for (char c : literal) {
    if (c == '$' || c == '"' || c == '\'' || c == escape) out += escape;
    out += c;
  }
  return out;
}

}  // namespace kiln::frontend
