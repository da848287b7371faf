#include "frontend/flags.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "frontend/suggest.h"
#include "frontend/text_util.h"

namespace kiln::frontend {

namespace {

const std::map<std::string, std::vector<FlagSpec>, std::less<>>& AllFlags() {
  static const std::map<std::string, std::vector<FlagSpec>, std::less<>> table = {
      {"FROM", {{"platform", FlagKind::kString}}},
      {"RUN",
       {{"mount", FlagKind::kStringList},
        {"network", FlagKind::kString},
        {"security", FlagKind::kString}}},
      {"COPY",
       {{"from", FlagKind::kString},
        {"chown", FlagKind::kString},
        {"chmod", FlagKind::kString},
        {"link", FlagKind::kBool},
        {"parents", FlagKind::kBool},
        {"exclude", FlagKind::kStringList}}},
      {"ADD",
       {{"chown", FlagKind::kString},
        {"chmod", FlagKind::kString},
        {"link", FlagKind::kBool},
        {"keep-git-dir", FlagKind::kBool},
        {"checksum", FlagKind::kString},
        {"exclude", FlagKind::kStringList},
        {"unpack", FlagKind::kBool}}},
      {"HEALTHCHECK",
       {{"interval", FlagKind::kString},
        {"timeout", FlagKind::kString},
        {"start-period", FlagKind::kString},
        {"start-interval", FlagKind::kString},
        {"retries", FlagKind::kString}}},
  };
  return table;
}

Location FlagLocation(Location where, std::string_view original, const std::string& flag) {
  if (where.line > 0 && !original.empty()) {
    // Column within the first line of the instruction; continuation lines
    // would need the raw text, so only use it when the flag is on line one.
    auto pos = original.find(flag);
    auto newline = original.find('\n');
    if (pos != std::string_view::npos && (newline == std::string_view::npos || pos < newline)) {
      where.column = static_cast<int>(pos) + 1;
    }
  }
  return where;
}

bool ParseBool(const std::string& value, bool* out) {
  std::string v = AsciiLower(value);
  if (v == "true" || v == "1") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "0") {
    *out = false;
    return true;
  }
  return false;
}

unsigned ParseUnsigned(const std::string& key, const std::string& value, int base) {
  if (value.empty()) throw std::runtime_error("empty value for mount option " + key);
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(value, &used, base);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value[0] == '-' || value[0] == '+' || n > 0xffffffffULL) {
    throw std::runtime_error("invalid " + key + " " + value + " in --mount (expected a " +
                             (base == 8 ? "octal" : "decimal") + " number)");
  }
  return static_cast<unsigned>(n);
}

// Go encoding/csv, one record: fields split on ',', a field that starts with
// '"' runs to the closing quote, and "" inside it is a literal quote.
std::vector<std::string> SplitCsv(const std::string& text) {
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += text[i++];
      }
      if (!closed) throw std::runtime_error("unterminated quote in --mount value: " + text);
      if (i < text.size() && text[i] != ',') {
        throw std::runtime_error("extraneous text after quoted field in --mount value: " + text);
      }
    } else {
      while (i < text.size() && text[i] != ',') {
        if (text[i] == '"') throw std::runtime_error("bare \" in non-quoted --mount field: " + text);
        field += text[i++];
      }
    }
    fields.push_back(field);
    if (i >= text.size()) break;
    ++i;  // the comma
  }
  return fields;
}

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

const std::vector<FlagSpec>& FlagsFor(std::string_view keyword) {
  static const std::vector<FlagSpec> none;
  auto it = AllFlags().find(keyword);
  return it == AllFlags().end() ? none : it->second;
}

std::string ParsedFlags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

bool ParsedFlags::GetBool(const std::string& name) const { return Get(name, "false") == "true"; }

std::vector<std::string> ParsedFlags::GetAll(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

ParsedFlags ParseFlags(std::string_view keyword, const std::vector<std::string>& flags,
                       const Location& where, std::string_view original) {
  const auto& accepted = FlagsFor(keyword);
  ParsedFlags parsed;
  for (const auto& raw : flags) {
    Location at = FlagLocation(where, original, raw);
    if (raw.size() < 3 || raw.compare(0, 2, "--") != 0) {
      throw Error(at, "invalid flag \"" + raw + "\" on " + std::string(keyword));
    }
    std::string body = raw.substr(2);
    auto eq = body.find('=');
    std::string name = AsciiLower(body.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string::npos) value = body.substr(eq + 1);

    auto spec = std::find_if(accepted.begin(), accepted.end(),
                             [&](const FlagSpec& f) { return f.name == name; });
    if (spec == accepted.end()) {
      std::vector<std::string> owners;
      for (const auto& [kw, specs] : AllFlags()) {
        for (const auto& f : specs) {
          if (f.name == name) owners.push_back(kw);
        }
      }
      std::string msg;
      if (!owners.empty()) {
        msg = "flag --" + name + " is not valid for " + std::string(keyword) + " (it is a flag of ";
        for (size_t i = 0; i < owners.size(); ++i) msg += (i ? ", " : "") + owners[i];
        msg += ")";
      } else {
        msg = "unknown flag --" + name + " for " + std::string(keyword);
        std::vector<std::string> names;
        for (const auto& f : accepted) names.push_back(f.name);
        if (auto s = Suggest(name, names)) msg += " (did you mean --" + *s + "?)";
      }
      throw Error(at, msg);
    }
    switch (spec->kind) {
      case FlagKind::kBool: {
        bool b = true;
        if (value && !ParseBool(*value, &b)) {
          throw Error(at, "expecting boolean value for flag --" + name + ", not: " + *value);
        }
        parsed.values[name] = {b ? "true" : "false"};
        break;
      }
      case FlagKind::kString:
        if (!value) throw Error(at, "missing a value on flag --" + name);
        if (parsed.Has(name)) throw Error(at, "duplicate flag specified: --" + name);
        parsed.values[name].push_back(*value);
        break;
      case FlagKind::kStringList:
        if (!value) throw Error(at, "missing a value on flag --" + name);
        parsed.values[name].push_back(*value);
        break;
    }
  }
  return parsed;
}

MountSpec ParseMount(const std::string& value, const WordExpander* expand) {
  MountSpec m;
  std::optional<bool> readonly;  // unset: the type's default
  bool type_seen = false;
  auto fields = SplitCsv(value);
  // The type decides defaults and which keys are legal, so find it first.
  for (const auto& field : fields) {
    auto eq = field.find('=');
    if (eq != std::string::npos && AsciiLower(field.substr(0, eq)) == "type") {
      std::string t = field.substr(eq + 1);
      if (expand) t = (*expand)(t);
      t = AsciiLower(t);
      if (t != "bind" && t != "cache" && t != "tmpfs" && t != "secret" && t != "ssh") {
        throw std::runtime_error("unsupported mount type \"" + t + "\"");
      }
      if (type_seen && t != m.type) throw std::runtime_error("mount type given twice in " + value);
      m.type = t;
      type_seen = true;
    }
  }
  bool file_info_allowed = m.type == "cache" || m.type == "secret" || m.type == "ssh";
  for (const auto& field : fields) {
    if (field.empty()) continue;
    auto eq = field.find('=');
    std::string key = AsciiLower(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "ro" || key == "readonly") {
        readonly = true;
      } else if (key == "rw" || key == "readwrite") {
        readonly = false;
      } else if (key == "required") {
        if (m.type != "secret" && m.type != "ssh") {
          throw std::runtime_error("unexpected key 'required' for mount type " + m.type);
        }
        m.required = true;
      } else {
        throw std::runtime_error("unexpected key '" + key + "' in '" + field + "'");
      }
      continue;
    }
    std::string v = field.substr(eq + 1);
    if (expand) v = (*expand)(v);
    bool deferred = !expand && v.find('$') != std::string::npos;
    if (key == "type") {
      continue;
    } else if (key == "target" || key == "dst" || key == "destination" || key == "dest") {
      m.target = v;
    } else if (key == "source" || key == "src") {
      m.source = v;
    } else if (key == "from") {
      m.from = v;
    } else if (key == "id") {
      m.id = v;
    } else if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw" ||
               key == "required") {
      bool b = false;
      if (deferred) continue;
      if (!ParseBool(v, &b)) throw std::runtime_error("invalid value for " + key + ": " + v);
      if (key == "required") {
        if (m.type != "secret" && m.type != "ssh") {
          throw std::runtime_error("unexpected key 'required' for mount type " + m.type);
        }
        m.required = b;
      } else {
        readonly = (key == "readonly" || key == "ro") ? b : !b;
      }
    } else if (key == "sharing") {
      std::string s = AsciiLower(v);
      if (!deferred && s != "shared" && s != "private" && s != "locked") {
        throw std::runtime_error("unsupported sharing value \"" + v + "\"");
      }
      m.sharing = s;
    } else if (key == "mode" || key == "uid" || key == "gid") {
      if (!file_info_allowed) {
        throw std::runtime_error(key + " not allowed for mount type " + m.type);
      }
      if (deferred) continue;
      unsigned n = ParseUnsigned(key, v, key == "mode" ? 8 : 10);
      (key == "mode" ? m.mode : key == "uid" ? m.uid : m.gid) = n;
    } else if (key == "size") {
      if (m.type != "tmpfs") throw std::runtime_error("size not allowed for mount type " + m.type);
      if (deferred) continue;
      m.size = ParseByteSize(v);
    } else if (key == "env") {
      if (m.type != "secret") throw std::runtime_error("env not allowed for mount type " + m.type);
      m.env = v;
    } else {
      throw std::runtime_error("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  // Defaults as BuildKit's parseMount applies them.
  if (m.type == "secret") {
    if (!m.from.empty()) throw std::runtime_error("secret mounts do not support from");
    if (m.id.empty()) {
      if (m.target.empty()) {
        if (m.env.empty()) throw std::runtime_error("secret mount requires an id, target or env");
        m.id = m.env;
      } else {
        m.id = Basename(m.target);
      }
    }
    if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
  } else if (m.type == "ssh") {
    if (!m.from.empty()) throw std::runtime_error("ssh mounts do not support from");
    if (m.id.empty()) m.id = "default";
    if (!m.mode) m.mode = 0600;
  }
  // An empty or relative target is not an error: BuildKit resolves it against
  // the WORKDIR (`RUN --mount=from=bins make` mounts bins at the workdir).
  if (m.type == "tmpfs" && (!m.source.empty() || !m.from.empty())) {
    throw std::runtime_error("tmpfs mounts do not take a source or from");
  }
  m.readonly = readonly.value_or(m.type == "bind" || m.type == "secret" || m.type == "ssh");
  return m;
}

long long ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  auto bad = [&]() { return std::runtime_error("invalid duration \"" + std::string(text) + "\""); };
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) throw bad();
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    std::string number;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      number += s[i++];
    }
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1) {
      throw bad();
    }
    size_t j = i;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
    std::string_view unit = s.substr(i, j - i);
    long double scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else throw bad();
    total += std::stold(number) * scale;
    s.remove_prefix(j);
  }
  if (total > 9.2e18L) throw bad();
  long long ns = static_cast<long long>(std::llround(total));
  return negative ? -ns : ns;
}

long long ParseHealthcheckDuration(const std::string& flag, const std::string& value) {
  long long d = ParseGoDuration(value);
  if (d < 0) throw std::runtime_error("--" + flag + " cannot be negative (" + value + ")");
  if (d == 0) return 0;
  if (d < 1000000) throw std::runtime_error("--" + flag + " cannot be less than 1ms (" + value + ")");
  return d;
}

unsigned long long ParseByteSize(std::string_view text) {
  std::string s(text);
  auto bad = [&]() { return std::runtime_error("invalid size \"" + std::string(text) + "\""); };
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) throw bad();
  long double n = 0;
  try {
    n = std::stold(s.substr(0, i));
  } catch (const std::exception&) {
    throw bad();
  }
  std::string suffix = AsciiLower(s.substr(i));
  if (!suffix.empty() && suffix[0] == ' ') suffix.erase(0, 1);
  long double mult = 1;
  if (!suffix.empty()) {
    static const std::string units = "kmgtp";
    auto u = units.find(suffix[0]);
    size_t rest = 0;
    if (u != std::string::npos) {
      mult = std::pow(1024.0L, static_cast<long double>(u + 1));
      rest = 1;
    }
    std::string tail = suffix.substr(rest);
    if (!(tail.empty() || tail == "b" || (rest && (tail == "i" || tail == "ib")))) throw bad();
  }
  long double bytes = n * mult;
  if (bytes > 1.8e19L) throw bad();
  return static_cast<unsigned long long>(bytes);
}

}  // namespace kiln::frontend
