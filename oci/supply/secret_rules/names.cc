#include "oci/supply/secret_rules/names.h"

#include "oci/supply/secret_rules/ascii.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace kiln::secret_rules {
namespace {

bool Has(std::string_view s, std::string_view w) { return s.find(w) != std::string_view::npos; }

// Asked of every ARG, ENV and RUN assignment the linter sees: names are
// upper-cased on the stack (the rare long one on the heap).
class UpperName {
 public:
  explicit UpperName(std::string_view raw) {
    if (raw.size() <= sizeof stack_) {
      for (size_t i = 0; i < raw.size(); ++i) stack_[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(raw[i])));
      view_ = std::string_view(stack_, raw.size());
    } else {
      heap_.assign(raw);
      for (auto& c : heap_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      view_ = heap_;
    }
  }
  std::string_view view() const { return view_; }

 private:
  char stack_[64];
  std::string heap_;
  std::string_view view_;
};

}  // namespace

bool IsSecretName(std::string_view raw) {
  UpperName upper(raw);
  const std::string_view n = upper.view();
  static constexpr std::string_view kNotSecretSuffixes[] = {
      "_FILE", "_PATH", "_URL", "_SERVER", "_DIR", "_HOST", "_PORT", "_ENDPOINT",
      "_LENGTH", "_TYPE", "_NAME", "_VERSION", "_HEADER", "_ALGORITHM", "_ENABLED"};
  static constexpr std::string_view kSecretWords[] = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY",
                                                      "PRIVATE_KEY", "CREDENTIAL", "AUTH_KEY", "ACCESS_KEY"};
  for (std::string_view suffix : kNotSecretSuffixes)
    if (n.ends_with(suffix)) return false;
  if (n == "GPG_KEY" || n == "GPG_KEYS" || Has(n, "PUBLIC_KEY") || Has(n, "PUBKEY")) return false;
  if (n.starts_with("AWS_")) return n == "AWS_ACCESS_KEY_ID" || Has(n, "SECRET") || Has(n, "SESSION_TOKEN");
  for (std::string_view w : kSecretWords)
    if (Has(n, w)) return true;
  if (n == "PASS" || n.ends_with("_PASS") || n.ends_with("_PWD")) return true;
  return n.ends_with("_KEY");  // a bare KEY is too generic
}

bool IsLiteralSecretValue(std::string_view v) {
  // Quotes a parser may have left, and surrounding blanks.
  while (!v.empty() && (v.front() == ' ' || v.front() == '"' || v.front() == '\'')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\'')) v.remove_suffix(1);
  if (v.empty()) return false;
  // Only variable references ($A, ${A}, ${A:-$B}): the value comes from
  // elsewhere (a build arg), which is where the secret problem would be.
  size_t i = 0;
  bool only_refs = true;
  while (i < v.size()) {
    if (v[i] != '$') { only_refs = false; break; }
    ++i;
    if (i < v.size() && v[i] == '{') {
      auto close = v.find('}', i);
      if (close == std::string_view::npos) { only_refs = false; break; }
      std::string_view inner = v.substr(i + 1, close - i - 1);
      auto op = inner.find(":-");
      if (op != std::string_view::npos && !inner.substr(op + 2).empty() && inner[op + 2] != '$') {
        only_refs = false;  // a literal default is a literal value
        break;
      }
      i = close + 1;
    } else {
      size_t n = 0;
      while (i + n < v.size() && (IsAsciiAlnum(v[i + n]) || v[i + n] == '_')) ++n;
      if (n == 0) { only_refs = false; break; }
      i += n;
    }
  }
  if (only_refs) return false;
  // Placeholders that document the variable rather than set it.
  if (v.front() == '<' && v.back() == '>') return false;
  auto is = [&](std::string_view w) {
    return v.size() == w.size() &&
           std::equal(v.begin(), v.end(), w.begin(), [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  };
  return !(is("none") || is("null") || is("false") || is("true") || is("0") || is("1") || is("-"));
}

bool IsSecretAssignment(std::string_view name, std::string_view value) {
  if (!IsSecretName(name) || !IsLiteralSecretValue(value)) return false;
  UpperName upper(name);
  const std::string_view n = upper.view();
  if (n.ends_with("_KEY") && !Has(n, "SECRET") && !Has(n, "PRIVATE") && !Has(n, "API") &&
      !Has(n, "ACCESS") && !Has(n, "TOKEN") && !Has(n, "LICENSE")) {
    size_t hex = 0;
    bool all_hex = true;
    for (char c : value) {
      if (c == ' ' || c == '"' || c == '\'') continue;
      if (!std::isxdigit(static_cast<unsigned char>(c))) { all_hex = false; break; }
      ++hex;
    }
    if (all_hex && (hex == 16 || hex == 40)) return false;
  }
  return true;
}

bool IsPlaceholderValue(std::string_view v) {
  static constexpr std::string_view kWords[] = {"password", "changeme", "example", "xxxxx", "*****", "secret", "your",
                                                "<", "{{", "%s", "dummy", "placeholder", "$"};
  auto folded_at = [&](size_t pos, std::string_view lower) { return StartsFoldedAt(v, pos, lower); };
  if ((v.size() == 4 && folded_at(0, "pass")) || (v.size() == 3 && folded_at(0, "pwd"))) return true;
  for (size_t i = 0; i < v.size(); ++i)
    for (std::string_view w : kWords)
      if (folded_at(i, w)) return true;
  return false;
}

}  // namespace kiln::secret_rules
