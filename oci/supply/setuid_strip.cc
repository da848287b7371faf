#include "oci/supply/setuid_strip.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>

#include "oci/error.h"

namespace kiln::oci {

const std::vector<std::string>& DefaultShells() {
  static const std::vector<std::string> kShells = {"sh", "bash", "dash", "ash", "zsh", "ksh", "csh", "tcsh",
                                                   "nc", "netcat", "ncat", "curl", "wget", "busybox"};
  return kShells;
}

namespace {

constexpr unsigned kSetBits = S_ISUID | S_ISGID;

std::string Parent(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

std::string Base(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string Normalise(std::string p) {
  while (p.starts_with("/")) p.erase(0, 1);
  while (p.ends_with("/")) p.pop_back();
  return p;
}

using Meta = SetBitsState::Meta;

// A setuid/setgid inode: the file holding the data in `layer`, and every
// visible path naming it.
struct Group {
  size_t layer = 0;
  std::string source;              // path of the data-carrying entry in that layer
  Meta meta;
  int64_t size = -1;
  std::set<std::string> visible;   // visible paths (source itself and/or hard links)
};

const std::string& KeyOf(const std::string& k) { return k; }
template <class V>
const std::string& KeyOf(const std::pair<const std::string, V>& kv) {
  return kv.first;
}

// Erases `path` and everything below it (only below when `keep_self`).
template <class C>
void EraseTree(C& c, const std::string& path, bool keep_self) {
  if (!keep_self) c.erase(path);
  if (path.empty()) {
    c.clear();
    return;
  }
  const std::string lo = path + "/";
  for (auto it = c.lower_bound(lo); it != c.end() && KeyOf(*it).compare(0, lo.size(), lo) == 0;) it = c.erase(it);
}

template <class... C>
void EraseTreeAll(const std::string& path, bool keep_self, C&... c) {
  (EraseTree(c, path, keep_self), ...);
}

// Applies layer `index` on top of `st`: its whiteouts, opaque markers and
// entries hide what is below; its own set-bit entries, shells and dirs join.
void ApplyLayer(SetBitsState& st, const LayerBlob& blob, size_t index, const std::set<std::string>& shells) {
  static const std::set<std::string> kBinDirs = {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin",
                                                 "usr/local/sbin"};
  std::set<std::string> whiteouts, opaque;
  std::map<std::string, bool> paths;  // this layer's entries: path -> is a directory
  SetBitsState mine;
  ForEachEntry(blob.path, [&](const TarEntry& raw, const ReadFn&) {
    const std::string path = CleanTarPath(raw.path);
    if (path.empty()) return;  // the root directory entry
    const std::string base = Base(path);
    if (base == ".wh..wh..opq") {
      opaque.insert(Parent(path));
      return;
    }
    if (base.starts_with(".wh.")) {
      const std::string dir = Parent(path);
      whiteouts.insert(dir.empty() ? base.substr(4) : dir + "/" + base.substr(4));
      return;
    }
    const bool dir = S_ISDIR(raw.mode) && !raw.hardlink;
    paths[path] = dir;
    mine.set_bits.erase(path);  // a later entry of the same path wins
    mine.shells.erase(path);
    mine.dirs.erase(path);
    const Meta m{raw.mode, raw.uid, raw.gid};
    if (dir) mine.dirs[path] = m;
    if (!dir && shells.count(base) && kBinDirs.count(Parent(path))) {
      mine.shells.insert(path);
      return;  // removed: no point in fixing its mode
    }
    if (!(raw.mode & kSetBits)) return;
    if (!dir && !S_ISREG(raw.mode) && !raw.hardlink) return;  // symlink modes mean nothing
    mine.set_bits[path] = {m, raw.hardlink ? -1 : raw.size, raw.hardlink ? CleanTarPath(raw.link_target) : "",
                           index, dir};
  });
  for (auto& [p, e] : mine.set_bits)
    if (!e.link.empty())
      if (auto t = mine.set_bits.find(e.link); t != mine.set_bits.end() && t->second.link.empty()) e.size = t->second.size;
  for (const auto& w : whiteouts) EraseTreeAll(w, false, st.set_bits, st.shells, st.dirs);
  for (const auto& d : opaque) EraseTreeAll(d, true, st.set_bits, st.shells, st.dirs);
  for (const auto& [p, dir] : paths) {
    EraseTreeAll(p, false, st.set_bits, st.shells, st.dirs);
    if (!dir) EraseTreeAll(p, true, st.set_bits, st.shells, st.dirs);  // a non-directory hides what was below
  }
  for (auto& [p, e] : mine.set_bits) st.set_bits[p] = std::move(e);
  st.shells.insert(mine.shells.begin(), mine.shells.end());
  for (auto& [p, m] : mine.dirs) st.dirs[p] = m;
  st.layers = index + 1;
}

// The data of `rel` from a layer's unpacked dir, when it is there as a
// regular file of the size the layer's tar entry gave it.
std::optional<std::string> ReadUnpacked(const std::filesystem::path& root, const std::string& rel, int64_t size) {
  if (root.empty() || size < 0) return std::nullopt;
  const std::filesystem::path file = root / rel;
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != size) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (static_cast<int64_t>(data.size()) != size) return std::nullopt;
  return data;
}

class TarWriter {
 public:
  explicit TarWriter(const std::filesystem::path& path) : path_(path) {
    a_ = archive_write_new();
    if (!a_) throw Error("write " + path.string() + ": archive_write_new failed");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK)
      Fail("open");
  }
  ~TarWriter() {
    if (a_) archive_write_free(a_);
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  void Header(const std::string& path, unsigned mode, const Meta& m, int64_t size, int64_t mtime,
              const std::string& hardlink = {}) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_mode(e.get(), mode);
    archive_entry_set_uid(e.get(), m.uid);
    archive_entry_set_gid(e.get(), m.gid);
    archive_entry_set_mtime(e.get(), mtime, 0);
    if (!hardlink.empty()) {
      archive_entry_set_hardlink(e.get(), hardlink.c_str());
      archive_entry_set_size(e.get(), 0);
    } else {
      archive_entry_set_size(e.get(), size);
    }
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) Fail("header of " + path);
  }
  void Data(const char* buf, size_t n, const std::string& path) {
    if (archive_write_data(a_, buf, n) != static_cast<la_ssize_t>(n)) Fail("data of " + path);
  }
  void Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) Fail("close");
  }

 private:
  [[noreturn]] void Fail(const std::string& what) {
    throw Error("write layer " + path_.string() + ": " + what + ": " + archive_error_string(a_));
  }
  std::filesystem::path path_;
  archive* a_ = nullptr;
};

}  // namespace

StripReport StripSetuidLayers(const std::vector<LayerBlob>& layers, const StripOptions& opts,
                              const std::filesystem::path& out_tar) {
  std::set<std::string> keep;
  for (const auto& k : opts.keep_setuid) keep.insert(Normalise(k));
  const std::set<std::string> shells(opts.strip_shells.begin(), opts.strip_shells.end());

  StripReport report;
  // Pass 1: the final filesystem, metadata only, bottom up from what is
  // already known.
  SetBitsState st;
  if (opts.below && opts.below->layers <= layers.size()) st = *opts.below;
  for (size_t i = st.layers; i < layers.size(); ++i) {
    ApplyLayer(st, layers[i], i, shells);
    report.walked.push_back(st);
  }

  std::map<std::pair<size_t, std::string>, Group> groups;  // (layer, source) -> inode
  std::map<std::string, Meta> changed_dirs;
  for (const auto& [path, e] : st.set_bits) {
    if (keep.count(path)) {
      report.kept.push_back("/" + path);
      continue;
    }
    report.changed.push_back({"/" + path, e.meta.mode & 07777u, e.meta.mode & 07777u & ~kSetBits, e.layer, e.dir});
    const Meta fixed{e.meta.mode & ~kSetBits, e.meta.uid, e.meta.gid};
    if (e.dir) {
      changed_dirs[path] = fixed;
      continue;
    }
    const std::string& source = e.link.empty() ? path : e.link;
    Group& g = groups[{e.layer, source}];
    g.layer = e.layer;
    g.source = source;
    g.meta = fixed;
    if (g.size < 0) g.size = e.size;
    g.visible.insert(path);
  }
  std::vector<std::string> whiteouts(st.shells.begin(), st.shells.end());

  // Parent directories are re-added with their final metadata: a directory
  // created implicitly in the new layer would mask the real one's mode/owner.
  std::map<std::string, Meta> out_dirs;
  auto add_parents = [&](const std::string& path) {
    for (std::string p = Parent(path); !p.empty(); p = Parent(p)) {
      auto it = st.dirs.find(p);
      out_dirs.emplace(p, it != st.dirs.end() ? it->second : Meta{S_IFDIR | 0755u, 0, 0});
    }
  };
  for (const auto& [p, m] : changed_dirs) add_parents(p);
  for (const auto& [k, g] : groups)
    for (const auto& v : g.visible) add_parents(v);
  for (const auto& w : whiteouts) add_parents(w);
  for (const auto& [p, m] : changed_dirs) out_dirs[p] = m;

  // Pass 2: the data of each inode, from its layer's unpacked dir when it is
  // there, else from its blob (read once per layer).
  std::map<std::pair<size_t, std::string>, std::string> data;
  std::map<size_t, std::map<std::string, const Group*>> from_blob;
  for (const auto& [k, g] : groups) {
    if (auto d = ReadUnpacked(layers[g.layer].unpacked, g.source, g.size)) data[k] = std::move(*d);
    else from_blob[g.layer][g.source] = &g;
  }
  for (const auto& [layer, want] : from_blob) {
    ForEachEntry(layers[layer].path, [&](const TarEntry& e, const ReadFn& read) {
      std::string path = CleanTarPath(e.path);
      auto it = want.find(path);
      if (it == want.end() || e.hardlink || !S_ISREG(e.mode)) return;
      std::string d = ReadAll(read, static_cast<size_t>(e.size) + 1);
      if (static_cast<int64_t>(d.size()) != e.size)
        throw Error("strip setuid: " + layers[layer].digest + ": /" + path + ": short read (" +
                    std::to_string(d.size()) + " of " + std::to_string(e.size) + " bytes)");
      data[{layer, path}] = std::move(d);
    });
    for (const auto& [src, g] : want)
      if (!data.count({layer, src}))
        throw Error("strip setuid: layer " + layers[layer].digest + ": data for /" + src + " not found");
  }

  const int64_t mtime = opts.mtime.value_or(0);
  TarWriter tar(out_tar);
  for (const auto& [p, m] : out_dirs) tar.Header(p, S_IFDIR | (m.mode & 07777u), m, 0, mtime);
  std::vector<std::pair<std::string, std::string>> links;  // (path, target)
  std::map<std::string, Meta> link_meta;
  for (const auto& [k, g] : groups) {
    const std::string& first = *g.visible.begin();
    const std::string& d = data.at(k);
    tar.Header(first, S_IFREG | (g.meta.mode & 07777u), g.meta, static_cast<int64_t>(d.size()), mtime);
    tar.Data(d.data(), d.size(), first);
    for (const auto& v : g.visible)
      if (v != first) {
        links.emplace_back(v, first);
        link_meta[v] = g.meta;
      }
  }
  std::sort(links.begin(), links.end());
  for (const auto& [path, target] : links) tar.Header(path, S_IFREG | (link_meta[path].mode & 07777u), link_meta[path], 0, mtime, target);
  for (const auto& w : whiteouts) {
    std::string parent = Parent(w);
    tar.Header((parent.empty() ? "" : parent + "/") + ".wh." + Base(w), S_IFREG, Meta{}, 0, mtime);
    report.removed.push_back("/" + w);
  }
  tar.Close();

  std::sort(report.changed.begin(), report.changed.end(),
            [](const StripChange& a, const StripChange& b) { return a.path < b.path; });
  std::sort(report.kept.begin(), report.kept.end());
  return report;
}

nlohmann::json SetBitsState::ToJson() const {
  auto meta = [](const Meta& m) { return nlohmann::json::array({m.mode, m.uid, m.gid}); };
  nlohmann::json j = {{"v", 1}, {"layers", layers}, {"set_bits", nlohmann::json::object()},
                      {"shells", shells}, {"dirs", nlohmann::json::object()}};
  for (const auto& [p, e] : set_bits)
    j["set_bits"][p] = {{"meta", meta(e.meta)}, {"size", e.size}, {"link", e.link}, {"layer", e.layer}, {"dir", e.dir}};
  for (const auto& [p, m] : dirs) j["dirs"][p] = meta(m);
  return j;
}

std::optional<SetBitsState> SetBitsState::FromJson(const nlohmann::json& j) {
  try {
    if (j.at("v").get<int>() != 1) return std::nullopt;
    auto meta = [](const nlohmann::json& a) { return Meta{a.at(0).get<unsigned>(), a.at(1).get<int64_t>(), a.at(2).get<int64_t>()}; };
    SetBitsState s;
    s.layers = j.at("layers").get<size_t>();
    for (const auto& [p, e] : j.at("set_bits").items())
      s.set_bits[p] = {meta(e.at("meta")), e.at("size").get<int64_t>(), e.at("link").get<std::string>(),
                       e.at("layer").get<size_t>(), e.at("dir").get<bool>()};
    for (const auto& p : j.at("shells")) s.shells.insert(p.get<std::string>());
    for (const auto& [p, m] : j.at("dirs").items()) s.dirs[p] = meta(m);
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string FormatStripReport(const StripReport& r) {
  auto octal = [](unsigned m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", m);
    return std::string(buf);
  };
  std::string out;
  for (const auto& c : r.changed) out += c.path + " " + octal(c.old_mode) + " -> " + octal(c.new_mode) + "\n";
  for (const auto& k : r.kept) out += k + " kept (allowlisted)\n";
  for (const auto& w : r.removed) out += w + " removed\n";
  return out;
}

}  // namespace kiln::oci
