#include "oci/layer/image_fs.h"

#include <sys/stat.h>

#include <unordered_map>
#include <unordered_set>

#include "oci/error.h"
#include "oci/text_util.h"

namespace kiln::oci {

std::string CleanTarPath(std::string_view p) {
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.starts_with("/")) p.remove_prefix(1);
  while (p.ends_with("/")) p.remove_suffix(1);
  if (p == ".") return {};
  return std::string(p);
}

static std::string_view DirName(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : p.substr(0, slash);
}

bool IsWhiteoutPath(std::string_view clean_path) { return PathBaseName(clean_path).starts_with(".wh."); }

std::string ReadAll(const ReadFn& read, size_t limit) {
  std::string out;
  char buf[65536];
  while (out.size() < limit) {
    long n = read(buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0) throw Error("reading layer entry data failed");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// What the layers above the current one did to the namespace.
struct Upper {
  std::unordered_map<std::string, bool> paths;  // path -> is directory
  std::unordered_set<std::string> whiteouts;    // removed paths (and subtrees)
  std::unordered_set<std::string> opaque;       // dirs whose lower children are hidden

  bool Hides(const std::string& path) const {
    if (paths.count(path) || whiteouts.count(path)) return true;
    std::string_view dir = DirName(path);
    while (!dir.empty()) {
      std::string d(dir);
      if (whiteouts.count(d) || opaque.count(d)) return true;
      auto it = paths.find(d);
      if (it != paths.end() && !it->second) return true;
      dir = DirName(dir);
    }
    // An opaque marker on the root hides everything below.
    return opaque.count("") > 0;
  }
};

}  // namespace

void ForEachFinalEntry(const std::vector<LayerBlob>& layers, const FinalEntryFn& fn) {
  Upper upper;
  for (size_t i = layers.size(); i-- > 0;) {
    Upper mine;  // this layer's effect, applied to lower layers only
    ForEachEntry(layers[i].path, [&](const TarEntry& raw, const ReadFn& read) {
      std::string path = CleanTarPath(raw.path);
      if (path.empty()) return;  // the root directory entry
      std::string_view base = PathBaseName(path);
      if (base == ".wh..wh..opq") {
        mine.opaque.insert(std::string(DirName(path)));
        return;
      }
      if (base.starts_with(".wh.")) {
        std::string dir(DirName(path));
        std::string name(base.substr(4));
        mine.whiteouts.insert(dir.empty() ? name : dir + "/" + name);
        return;
      }
      mine.paths[path] = S_ISDIR(raw.mode) && !raw.hardlink;
      if (upper.Hides(path)) return;
      if (raw.path == path) {
        fn(raw, read, i);
      } else {
        TarEntry e = raw;
        e.path = path;
        fn(e, read, i);
      }
    });
    for (auto& [p, d] : mine.paths) upper.paths.emplace(p, d);
    upper.whiteouts.insert(mine.whiteouts.begin(), mine.whiteouts.end());
    upper.opaque.insert(mine.opaque.begin(), mine.opaque.end());
  }
}

}  // namespace kiln::oci
