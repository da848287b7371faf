#include "builder/lint_gate.h"

#include <sys/stat.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "builder/error.h"
#include "frontend/lint/linter.h"
#include "oci/layer/image_fs.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

// What /bin/sh runs in an image ("dash", "bash", "busybox"), "" when it is
// not a symlink: read from the layers, top first, without unpacking them.
std::string BinShOf(const oci::Store& store, const ImageState& image) {
  std::vector<oci::LayerBlob> blobs;
  for (const auto& d : image.layers) blobs.push_back({store.BlobPath(d.digest), d.digest.str()});
  std::map<std::string, std::string> links;  // "bin", "bin/sh", "usr/bin/sh" -> symlink target
  oci::ForEachFinalEntry(blobs, [&](const oci::TarEntry& e, const oci::ReadFn&, size_t) {
    if (e.path == "bin" || e.path == "bin/sh" || e.path == "usr/bin/sh")
      links[e.path] = S_ISLNK(e.mode) ? e.link_target : "";
  });
  // Debian's merged /usr: /bin -> usr/bin, so /bin/sh is usr/bin/sh.
  const bool bin_is_link = links.count("bin") && !links["bin"].empty();
  const std::string target = links[bin_is_link ? "usr/bin/sh" : "bin/sh"];
  return std::string(fs::path(target).filename());
}

}  // namespace

void LintGate(const BuildOptions& opts, const frontend::Dockerfile& df, const std::string& text,
              const std::string& display, const oci::Store& store,
              const std::function<const ImageState*(const std::string& spelled)>& base) {
  if (opts.lint == LintMode::kOff) return;
  frontend::lint::LintOptions lo;
  lo.source_text = text;
  lo.context_dir = opts.context_dir;
  lo.base_user = [&](const std::string& spelled) -> std::optional<std::string> {
    const ImageState* st = base(spelled);
    if (!st) return std::nullopt;
    return st->config.config.user;
  };
  std::map<std::string, std::string> bin_sh;  // memo by spelling: one read of the layers per base
  // Only warnings use it (KL300), and only --lint=warn shows them: the
  // default gate reads no layers for a message it would not print.
  if (opts.lint == LintMode::kWarn) lo.base_bin_sh = [&](const std::string& spelled) -> std::optional<std::string> {
    if (auto it = bin_sh.find(spelled); it != bin_sh.end()) return it->second;
    const ImageState* st = base(spelled);
    if (!st) return std::nullopt;
    return bin_sh[spelled] = BinShOf(store, *st);
  };
  auto result = frontend::lint::Lint(df, lo);
  result.filename = display;
  const bool errors = frontend::lint::HasErrors(result);
  if (opts.lint == LintMode::kWarn) {
    if (!result.findings.empty()) std::cerr << frontend::lint::FormatText(result);
    return;
  }
  if (!errors) return;
  frontend::lint::LintResult only_errors = result;
  only_errors.findings.clear();
  for (const auto& f : result.findings)
    if (f.severity == frontend::lint::Severity::kError) only_errors.findings.push_back(f);
  std::cerr << frontend::lint::FormatText(only_errors);
  throw Error({"lint found " + std::to_string(only_errors.findings.size()) + " error(s) in", display, "",
               "fix them, or build with --lint=warn"});
}

}  // namespace kiln::builder
