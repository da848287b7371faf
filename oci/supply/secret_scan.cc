#include "oci/supply/secret_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <vector>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/layer/layer.h"
#include "sandbox/parallel.h"
#include "oci/supply/secret_rules.h"

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

// The regular files of an unpacked layer (overlay form) as the tar entries
// they were written from or extracted out of: in tar order (plain byte order
// of the path), a file's second name as a hardlink entry.
struct TreeFile {  // what the scan needs of a struct stat: 20,000 of them are held per layer
  std::string rel;
  mode_t mode;
  off_t size;
  bool hardlink;
};

std::vector<TreeFile> TreeFiles(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  struct Found {
    TreeFile f;
    nlink_t nlink;
    dev_t dev;
    ino_t ino;
  };
  std::vector<Found> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) throw Error("secret scan: walk " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("secret scan: walk " + dir.string() + ": " + ec.message());
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) throw Error("secret scan: lstat " + it->path().string());
    if (S_ISREG(st.st_mode))
      found.push_back({{it->path().lexically_relative(dir).string(), st.st_mode, st.st_size, false}, st.st_nlink,
                       st.st_dev, st.st_ino});
  }
  if (ec) throw Error("secret scan: walk " + dir.string() + ": " + ec.message());
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.f.rel < b.f.rel; });
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<TreeFile> files;
  files.reserve(found.size());
  for (Found& x : found) {
    x.f.hardlink = x.nlink > 1 && !seen.insert({x.dev, x.ino}).second;
    files.push_back(std::move(x.f));
  }
  return files;
}

void VisitTreeFile(const std::filesystem::path& dir, const TreeFile& f,
                   const std::function<void(const TarEntry&, const ReadFn&)>& fn) {
  TarEntry e;
  e.path = f.rel;
  e.mode = f.mode;
  e.size = f.size;
  e.hardlink = f.hardlink;
  const std::string full = (dir / f.rel).string();
  sandbox::UniqueFd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) throw Error("secret scan: open " + full + ": " + std::strerror(errno));
  const ReadFn read = [&](void* buf, size_t size) -> long {
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, size);
      if (n >= 0 || errno != EINTR) return n;
    }
  };
  fn(e, read);
}

}  // namespace

std::vector<SecretFinding> ScanLayersForSecrets(const ImageConfig& config, const std::vector<LayerBlob>& layers,
                                                const SecretScanOptions& opts) {
  std::vector<SecretFinding> out;
  std::vector<std::string> creators = LayerCreators(config);
  // The work is spread over the cores by file where a layer is unpacked in
  // the store (its tree holds the same regular files as the blob and is read
  // without inflating it), by layer where only the blob is (read whole, in
  // order); findings are kept in layer and file order.
  std::vector<std::vector<TreeFile>> trees(layers.size());
  struct Item {
    size_t layer;
    size_t file;  // index in trees[layer]; unused for a blob
  };
  std::vector<Item> items;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (opts.known_clean.count(layers[i].digest)) continue;
    if (layers[i].unpacked.empty()) {
      items.push_back({i, 0});
      continue;
    }
    trees[i] = TreeFiles(layers[i].unpacked);
    for (size_t k = 0; k < trees[i].size(); ++k) items.push_back({i, k});
  }
  std::vector<std::vector<SecretFinding>> per_item(items.size());
  auto scan_item = [&](size_t n) {
    const size_t i = items[n].layer;
    std::vector<SecretFinding>& found = per_item[n];
    static const std::string kNone;
    const std::string& created_by = i < creators.size() ? creators[i] : kNone;
    auto scan_file = [&](const TarEntry& e, const ReadFn& read) {
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
    };
    if (layers[i].unpacked.empty()) ForEachEntry(layers[i].path, scan_file);
    else VisitTreeFile(layers[i].unpacked, trees[i][items[n].file], scan_file);
  };
  sandbox::ParallelFor(items.size(), scan_item);
  for (const auto& found : per_item) out.insert(out.end(), found.begin(), found.end());
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
