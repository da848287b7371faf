#include "frontend/lint/lint_config.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "frontend/error.h"

namespace kiln::frontend::lint {
namespace {

void Validate(LintConfig& c) {
  for (const auto& [id, sev] : c.severity)
    if (!ParseSeverity(sev) && sev != "off" && sev != "ignore" && sev != "none")
      throw Error(Location{c.path}, "invalid severity '" + sev + "' for " + id + " (expected error, warning, info or off)");
  if (c.failure_threshold) {
    const auto& t = *c.failure_threshold;
    if (t != "error" && t != "warning" && t != "info" && t != "none")
      throw Error(Location{c.path}, "invalid failure-threshold '" + t + "' (expected error, warning, info or none)");
  }
}

LintConfig FromJson(const std::string& text, const std::string& path) {
  LintConfig c;
  c.path = path;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Location{path}, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(Location{path}, "config must be a JSON object");
  try {
    for (const auto& [key, value] : j.items()) {
      if (key == "ignore") c.ignore = value.get<std::vector<std::string>>();
      else if (key == "severity") c.severity = value.get<std::map<std::string, std::string>>();
      else if (key == "trusted-registries") c.trusted_registries = value.get<std::vector<std::string>>();
      else if (key == "failure-threshold") c.failure_threshold = value.get<std::string>();
      else throw Error(Location{path}, "unknown key '" + key + "' (expected ignore, severity, trusted-registries, failure-threshold)");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(Location{path}, std::string("wrong value type: ") + e.what());
  }
  return c;
}

std::string Strip(std::string s) {
  auto hash = s.find(" #");
  if (s.starts_with("#")) return "";
  if (hash != std::string::npos) s.resize(hash);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string Unquote(std::string s) {
  if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'')))
    return s.substr(1, s.size() - 2);
  return s;
}

LintConfig FromYaml(const std::string& text, const std::string& path) {
  LintConfig c;
  c.path = path;
  std::istringstream in(text);
  std::string section;
  int n = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++n;
    const Location where{path, n};
    const bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    std::string line = Strip(raw);
    if (line.empty() || line == "---") continue;
    if (!indented && !line.starts_with("- ")) {
      auto colon = line.find(':');
      if (colon == std::string::npos) throw Error(where, "expected `key:`");
      std::string key = line.substr(0, colon);
      std::string value = Unquote(Strip(line.substr(colon + 1)));
      if (key != "ignore" && key != "severity" && key != "trusted-registries" && key != "failure-threshold")
        throw Error(where, "unknown key '" + key + "' (expected ignore, severity, trusted-registries, failure-threshold)");
      section = key;
      if (key == "failure-threshold") {
        if (value.empty()) throw Error(where, "failure-threshold needs a value");
        c.failure_threshold = value;
        section.clear();
      } else if (value == "[]" || value == "{}") {
        section.clear();
      } else if (value.starts_with("[") && value.ends_with("]")) {  // flow list: [a, b]
        std::string items = value.substr(1, value.size() - 2), item;
        std::istringstream is(items);
        auto& list = key == "ignore" ? c.ignore : c.trusted_registries;
        if (key == "severity") throw Error(where, "severity must be a map");
        while (std::getline(is, item, ','))
          if (auto v = Unquote(Strip(item)); !v.empty()) list.push_back(v);
        section.clear();
      } else if (!value.empty()) {
        throw Error(where, key + " must be a list or map on the following lines");
      }
      continue;
    }
    if (section.empty()) throw Error(where, "unexpected indented line outside ignore/severity/trusted-registries");
    if (section == "severity") {
      auto colon = line.find(':');
      if (colon == std::string::npos) throw Error(where, "expected `ID: severity`");
      c.severity[Unquote(Strip(line.substr(0, colon)))] = Unquote(Strip(line.substr(colon + 1)));
    } else {
      if (!line.starts_with("- ")) throw Error(where, "expected `- item` under " + section);
      (section == "ignore" ? c.ignore : c.trusted_registries).push_back(Unquote(Strip(line.substr(2))));
    }
  }
  return c;
}

}  // namespace

LintConfig ParseLintConfig(const std::string& text, const std::string& path) {
  LintConfig c = path.ends_with(".json") ? FromJson(text, path) : FromYaml(text, path);
  Validate(c);
  return c;
}

LintConfig LoadLintConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Location{path}, "cannot read lint config: " + std::string(std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseLintConfig(ss.str(), path);
}

std::string FindLintConfig(const std::string& dockerfile_path) {
  return LintConfigFinder().Find(dockerfile_path);
}

std::string LintConfigFinder::Find(const std::string& dockerfile_path) {
  namespace fs = std::filesystem;
  // Files named from the same directory share the answer: no cwd lookup
  // (fs::absolute asks the kernel each time) per file.
  // ("-" and "Dockerfile" both mean the working directory: key "".)
  return by_written_dir_.Get(dockerfile_path.substr(0, dockerfile_path.rfind('/') + 1), [&] {
    std::error_code ec;
    fs::path dir = dockerfile_path == "-" ? fs::current_path(ec) : fs::absolute(dockerfile_path, ec).parent_path();
    return ec ? std::string() : FindFrom(dir);
  });
}

const std::string& LintConfigFinder::FindFrom(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  return by_dir_.Get(dir.native(), [&] {
    std::error_code ec;
    for (const char* name : {".kiln-lint.json", ".kiln-lint.yaml", ".kiln-lint.yml"}) {
      fs::path p = dir / name;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
    if (dir.has_parent_path() && dir.parent_path() != dir) return FindFrom(dir.parent_path());
    return std::string();
  });
}

}  // namespace kiln::frontend::lint
