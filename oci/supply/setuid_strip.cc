#include "oci/supply/setuid_strip.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
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

struct Meta {
  unsigned mode = 0;
  int64_t uid = 0, gid = 0;
};

// A setuid/setgid inode: the file holding the data in `layer`, and every
// visible path naming it.
struct Group {
  size_t layer = 0;
  std::string source;              // path of the data-carrying entry in that layer
  Meta meta;
  int64_t size = 0;
  std::set<std::string> visible;   // visible paths (source itself and/or hard links)
};

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
  std::set<std::string> shells(opts.strip_shells.begin(), opts.strip_shells.end());
  static const std::set<std::string> kBinDirs = {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin",
                                                 "usr/local/sbin"};

  StripReport report;
  std::map<std::string, Meta> dirs;                       // final metadata of every visible dir
  std::map<std::pair<size_t, std::string>, Group> groups;  // (layer, source) -> inode
  std::map<std::string, Meta> changed_dirs;
  std::vector<std::string> whiteouts;

  // Pass 1: the final filesystem, metadata only.
  ForEachFinalEntry(layers, [&](const TarEntry& e, const ReadFn&, size_t layer) {
    const std::string& path = e.path;
    Meta m{e.mode, e.uid, e.gid};
    bool dir = S_ISDIR(e.mode) && !e.hardlink;
    if (dir) dirs[path] = m;
    if (!dir && shells.count(Base(path)) && kBinDirs.count(Parent(path))) {
      whiteouts.push_back(path);
      return;  // removed: no point in fixing its mode
    }
    if (!(e.mode & kSetBits)) return;
    if (!dir && !S_ISREG(e.mode) && !e.hardlink) return;  // symlink modes mean nothing
    if (keep.count(path)) {
      report.kept.push_back("/" + path);
      return;
    }
    report.changed.push_back({"/" + path, e.mode & 07777u, e.mode & 07777u & ~kSetBits, layer, dir});
    if (dir) {
      changed_dirs[path] = Meta{e.mode & ~kSetBits, e.uid, e.gid};
      return;
    }
    std::string source = e.hardlink ? CleanTarPath(e.link_target) : path;
    Group& g = groups[{layer, source}];
    g.layer = layer;
    g.source = source;
    g.meta = Meta{e.mode & ~kSetBits, e.uid, e.gid};
    if (!e.hardlink) g.size = e.size;
    g.visible.insert(path);
  });

  // Parent directories are re-added with their final metadata: a directory
  // created implicitly in the new layer would mask the real one's mode/owner.
  std::map<std::string, Meta> out_dirs;
  auto add_parents = [&](const std::string& path) {
    for (std::string p = Parent(path); !p.empty(); p = Parent(p)) {
      auto it = dirs.find(p);
      out_dirs.emplace(p, it != dirs.end() ? it->second : Meta{S_IFDIR | 0755u, 0, 0});
    }
  };
  for (const auto& [p, m] : changed_dirs) add_parents(p);
  for (const auto& [k, g] : groups)
    for (const auto& v : g.visible) add_parents(v);
  for (const auto& w : whiteouts) add_parents(w);
  for (const auto& [p, m] : changed_dirs) out_dirs[p] = m;

  int64_t mtime = opts.mtime.value_or(0);
  TarWriter tar(out_tar);
  for (const auto& [p, m] : out_dirs) tar.Header(p, S_IFDIR | (m.mode & 07777u), m, 0, mtime);

  // Pass 2: copy the data of each inode from its layer.
  std::map<size_t, std::vector<Group*>> by_layer;
  for (auto& [k, g] : groups) by_layer[g.layer].push_back(&g);
  std::vector<std::pair<std::string, std::string>> links;  // (path, target)
  for (auto& [layer, gs] : by_layer) {
    std::map<std::string, Group*> want;
    for (Group* g : gs) want[g->source] = g;
    std::set<std::string> done;
    ForEachEntry(layers[layer].path, [&](const TarEntry& e, const ReadFn& read) {
      std::string path = CleanTarPath(e.path);
      auto it = want.find(path);
      if (it == want.end() || e.hardlink || !S_ISREG(e.mode) || done.count(path)) return;
      Group& g = *it->second;
      const std::string& first = *g.visible.begin();
      tar.Header(first, S_IFREG | (g.meta.mode & 07777u), g.meta, e.size, mtime);
      char buf[65536];
      int64_t copied = 0;
      for (long n; (n = read(buf, sizeof buf)) > 0;) {
        tar.Data(buf, static_cast<size_t>(n), first);
        copied += n;
      }
      if (copied != e.size)
        throw Error("strip setuid: " + layers[layer].digest + ": /" + path + ": short read (" +
                    std::to_string(copied) + " of " + std::to_string(e.size) + " bytes)");
      for (const auto& v : g.visible)
        if (v != first) links.emplace_back(v, first);
      done.insert(path);
    });
    for (const auto& [src, g] : want)
      if (!done.count(src))
        throw Error("strip setuid: layer " + layers[layer].digest + ": data for /" + src + " not found");
  }
  std::sort(links.begin(), links.end());
  for (const auto& [path, target] : links) {
    Meta m;
    for (const auto& [k, g] : groups)
      if (g.visible.count(path)) m = g.meta;
    tar.Header(path, S_IFREG | (m.mode & 07777u), m, 0, mtime, target);
  }
  std::sort(whiteouts.begin(), whiteouts.end());
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
