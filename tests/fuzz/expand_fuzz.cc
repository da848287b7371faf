// libFuzzer target: shell-word expansion and .dockerignore matching must
// never crash. Input layout: byte 0 picks lexer options, then
// "<word>\n<NAME=value>\n<NAME=value>...", the word also serving as an
// ignore pattern and the first variable's value as a path.
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "frontend/dockerignore.h"
#include "frontend/error.h"
#include "frontend/shell_lex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::frontend;
  if (size < 1 || size > 4096) return 0;
  const uint8_t opts = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nl = rest.find('\n');
  std::string_view word = rest.substr(0, nl);
  std::map<std::string, std::string> env;
  std::string first_value;
  while (nl != std::string_view::npos) {
    rest.remove_prefix(nl + 1);
    nl = rest.find('\n');
    std::string_view kv = rest.substr(0, nl);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (env.empty()) first_value = std::string(kv.substr(eq + 1));
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }

  ShellLex lex((opts & 1) ? '`' : '\\');
  lex.raw_quotes = opts & 2;
  lex.raw_escapes = opts & 4;
  lex.skip_unset_env = opts & 8;
  lex.skip_process_quotes = opts & 16;
  ShellLex::Lookup lookup = [&env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  try {
    lex.ProcessWord(word, env);
  } catch (const std::runtime_error&) {
  }
  try {
    ShellLex::Matches m;
    lex.ProcessWordsWithMatches(word, lookup, &m);
  } catch (const std::runtime_error&) {
  }
  try {
    IgnoreMatcher matcher(ReadIgnoreFile(word));
    matcher.Excluded(first_value);
    matcher.MayIncludeBelow(first_value);
    IgnoreMatches(first_value, {std::string(word)});
  } catch (const Error&) {
  }
  return 0;
}
