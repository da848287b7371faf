#include "oci/secret_scan.h"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "oci/parallel.h"
#include "oci/secret_rules.h"

namespace kiln::oci {

namespace {

bool Allowed(const std::string& path, const std::string& rule, const SecretScanOptions& opts) {
  if (opts.allow_rules.count(rule)) return true;
  for (std::string a : opts.allow_paths) {
    while (a.starts_with("/")) a.erase(0, 1);
    if (a.empty()) continue;
    if (a.ends_with("/") ? path.starts_with(a) : (path == a || path.starts_with(a + "/"))) return true;
  }
  return false;
}

// History entries that produced a layer, in layer order.
std::vector<std::string> LayerCreators(const ImageConfig& config) {
  std::vector<std::string> out;
  for (const auto& h : config.history)
    if (!h.empty_layer) out.push_back(h.created_by);
  return out;
}

}  // namespace

std::vector<SecretFinding> ScanLayersForSecrets(const ImageConfig& config, const std::vector<LayerBlob>& layers,
                                                const SecretScanOptions& opts) {
  std::vector<SecretFinding> out;
  std::vector<std::string> creators = LayerCreators(config);
  // Layers are scanned side by side (each is decompressed and read whole;
  // the big ones of a build dominate), findings kept in layer order.
  std::vector<std::vector<SecretFinding>> per_layer(layers.size());
  auto scan_layer = [&](size_t i) {
    std::vector<SecretFinding>& found = per_layer[i];
    std::string created_by = i < creators.size() ? creators[i] : "";
    ForEachEntry(layers[i].path, [&](const TarEntry& e, const ReadFn& read) {
      if (!S_ISREG(e.mode) || e.hardlink) return;
      std::string path = CleanTarPath(e.path);
      if (path.empty() || IsWhiteoutPath(path) || IsBenignPath(path)) return;
      auto add = [&](const SecretMatch& m) {
        if (Allowed(path, m.rule_id, opts)) return;
        found.push_back({static_cast<int>(i), layers[i].digest, created_by, "/" + path, m.rule_id, m.description,
                         m.line, m.redacted});
      };
      if (e.size > 0) {
        SecretMatch by_name = MatchSecretPath(path);
        if (!by_name.rule_id.empty()) add(by_name);
      }
      if (e.size <= 0) return;
      std::string head = ReadAll(read, static_cast<size_t>(std::min<int64_t>(e.size, 8192)));
      if (head.find('\0') != std::string::npos) return;  // binary
      std::string text = head + ReadAll(read, static_cast<size_t>(std::max<int64_t>(0, opts.max_bytes - 8192)));
      for (const auto& m : ScanText(path, text)) add(m);
    });
  };
  ParallelFor(layers.size(), scan_layer);
  for (const auto& found : per_layer) out.insert(out.end(), found.begin(), found.end());
  if (opts.scan_config) {
    for (const auto& env : config.config.env)
      for (const auto& m : ScanCommand(env))
        if (!opts.allow_rules.count(m.rule_id)) out.push_back({-1, "", "", "config.env", m.rule_id, m.description, 0, m.redacted});
    for (size_t h = 0; h < config.history.size(); ++h) {
      const std::string& cmd = config.history[h].created_by;
      auto add = [&](const SecretMatch& m) {
        if (!opts.allow_rules.count(m.rule_id))
          out.push_back({-1, "", cmd, "history[" + std::to_string(h) + "]", m.rule_id, m.description, 0, m.redacted});
      };
      for (const auto& m : ScanCommand(cmd)) add(m);
      for (const auto& m : ScanText("", cmd))
        if (m.rule_id != "password-assignment") add(m);  // ScanCommand covers assignments
    }
  }
  return out;
}

std::string FormatFinding(const SecretFinding& f) {
  std::string where = f.layer_index >= 0 ? "layer " + std::to_string(f.layer_index) + " " + f.layer_digest : "config";
  if (!f.created_by.empty()) where += " (" + f.created_by.substr(0, 80) + ")";
  std::string line = f.line > 0 ? ":" + std::to_string(f.line) : "";
  return where + ": " + f.path + line + ": " + f.rule_id + ": " + f.description + " [" + f.redacted + "]";
}

}  // namespace kiln::oci
