#include "builder/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "builder/config_apply.h"
#include "builder/error.h"
#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/layer/layer_read.h"
#include "sandbox/parallel.h"
#include "sandbox/owner_record.h"
#include "sandbox/root_path.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void Fail(const std::string& what, const fs::path& p) {
  ThrowErrno(what, p.string());
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string Basename(const std::string& rel) {
  auto s = rel.rfind('/');
  return s == std::string::npos ? rel : rel.substr(s + 1);
}

mode_t WantedMode(mode_t src, const std::optional<mode_t>& chmod) { return chmod ? *chmod : (src & 07777); }

// `fresh`: the copy just created `p` (so it has no owner record to remove).
void SetOwnerMode(const fs::path& p, mode_t src, const CopyAttrs& a, bool is_link, bool fresh = false) {
  if (fresh) sandbox::SetOwnerOfNew(p.string(), a.uid, a.gid);
  else sandbox::SetOwner(p.string(), a.uid, a.gid);
  if (is_link) return;
  if (::chmod(p.c_str(), WantedMode(src, a.chmod)) != 0) Fail("chmod", p);
}

void SetTimes(const fs::path& p, const struct timespec& atime, const struct timespec& mtime) {
  struct timespec ts[2] = {atime, mtime};
  ::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

// Whether two files of `size` bytes hold the same bytes.
bool SameBytes(const std::string& a, const std::string& b, off_t size) {
  sandbox::UniqueFd fa(::open(a.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  sandbox::UniqueFd fb(::open(b.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fa.valid() || !fb.valid()) return false;
  constexpr size_t kChunk = 1 << 14;
  char buf[2 * kChunk];
  for (off_t at = 0; at < size;) {
    const size_t want = static_cast<size_t>(std::min<off_t>(size - at, kChunk));
    if (sandbox::PreadFull(fa.get(), buf, want, at) != want || sandbox::PreadFull(fb.get(), buf + kChunk, want, at) != want ||
        std::memcmp(buf, buf + kChunk, want) != 0)
      return false;
    at += static_cast<off_t>(want);
  }
  return true;
}

// Returns true when `to` is a new file (nothing of an old one kept).
bool CopyRegular(const fs::path& from, const fs::path& to, std::atomic<bool>* range_unsupported = nullptr) {
  sandbox::UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) Fail("open", from);
  // Replace rather than write through: the old file may be a lower layer's
  // hardlink or a symlink pointing anywhere.
  struct stat old {};
  bool fresh = true;
  if (::lstat(to.c_str(), &old) == 0) fresh = !S_ISDIR(old.st_mode) && ::unlink(to.c_str()) == 0;
  sandbox::UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out.valid()) Fail("create", to);
  sandbox::CopyData(in.get(), out.get(), "copying " + from.string() + " to " + to.string(), range_unsupported);
  return fresh;
}

// What a copy leaves for after the tree walk: the regular files, copied on
// every core (a big COPY is mostly creating files and copying their data),
// then the directories' owners, modes and times, deepest first, so that
// writing into a directory no longer changes them.
// Each entry holds its path below the target once (from_top + sub is copied
// to to_top + sub) and only the metadata a copy uses, in a deque (a vector
// doubles): a 20,000-file COPY once cost 26 MB here.
struct DeferredCopy {
  struct Meta {
    mode_t mode;
    off_t size;
    struct timespec atime, mtime;
  };
  struct File { std::string sub; Meta m; };
  struct Dir { std::string sub; Meta m; bool owner_mode; };
  DeferredCopy(const fs::path& rootfs, const fs::path& from_top, const fs::path& to_top);
  static Meta MetaOf(const struct stat& st) { return {st.st_mode, st.st_size, st.st_atim, st.st_mtim}; }
  std::string Sub(const fs::path& from) const;
  std::string root_prefix;  // the rootfs with a trailing '/'
  std::string from_top, to_top;  // no trailing '/'
  std::deque<File> files;
  std::vector<Dir> dirs;  // post-order: children before their parent
  void Run(const CopyAttrs& a);
  std::vector<uint32_t> DirectoriesInTurn() const;
  bool LeaveForEarlier(const File& f, const CopyAttrs& a);
  void KeepForLinks(const fs::path& top, const CopyAttrs& a);
};

std::string TrimSlash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

DeferredCopy::DeferredCopy(const fs::path& rootfs, const fs::path& from, const fs::path& to)
    : root_prefix(TrimSlash(rootfs.string()) + "/"), from_top(TrimSlash(from.string())), to_top(TrimSlash(to.string())) {}

std::string DeferredCopy::Sub(const fs::path& from) const {
  std::string s = from.string();
  if (s.compare(0, from_top.size(), from_top) != 0)
    throw std::logic_error("copy: " + s + " is not below " + from_top);
  return TrimSlash(s.substr(from_top.size()));
}

// Once files were left for linking: `top`, the one directory they may land
// in that the copy neither made nor set times on, gets its own times set
// again, which copies it up into the upper dir unchanged; and the times the
// copy gave its directories are kept, for LinkEarlierFiles to set again
// after linking into them.
void DeferredCopy::KeepForLinks(const fs::path& top, const CopyAttrs& a) {
  if (!a.earlier || a.earlier->pending.empty()) return;
  struct stat st {};
  if (::lstat(top.c_str(), &st) != 0) Fail("stat", top);
  SetTimes(top, st.st_atim, st.st_mtim);
  for (const Dir& d : dirs) a.earlier->dir_times.push_back({a.earlier->Rel(d.sub), d.m.atime, d.m.mtime});
}

// True when the earlier tree holds this very file at the same path and the
// rootfs has nothing there: then it is only listed (see EarlierFiles).
bool DeferredCopy::LeaveForEarlier(const File& f, const CopyAttrs& a) {
  const std::string was = (a.earlier->tree / a.earlier->TreeRel(f.sub)).string();
  struct stat st {};
  if (::lstat(was.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != f.m.size ||
      st.st_uid != a.uid || st.st_gid != a.gid || (st.st_mode & 07777) != WantedMode(f.m.mode, a.chmod) ||
      st.st_mtim.tv_sec != f.m.mtime.tv_sec || st.st_mtim.tv_nsec != f.m.mtime.tv_nsec ||
      ::llistxattr(was.c_str(), nullptr, 0) != 0 || !SameBytes(from_top + f.sub, was, f.m.size))
    return false;
  struct stat there {};
  if (::lstat((to_top + f.sub).c_str(), &there) == 0 || errno != ENOENT) return false;
  std::lock_guard lock(a.earlier->mu);
  a.earlier->pending.push_back(f.sub);
  return true;
}

// The files' indices, taking one file from each directory in turn: the
// threads that take consecutive items then create files in different
// directories. Creating a file locks its directory, so two threads in one
// directory mostly wait for each other (a 20,000-file COPY kept one of two
// cores busy).
std::vector<uint32_t> DeferredCopy::DirectoriesInTurn() const {
  std::unordered_map<std::string_view, std::vector<uint32_t>> by_dir;
  std::vector<std::vector<uint32_t>*> dirs_seen;  // in walk order, for a stable result
  for (uint32_t i = 0; i < files.size(); ++i) {
    const std::string_view sub = files[i].sub;
    const size_t slash = sub.rfind('/');
    auto [it, added] = by_dir.try_emplace(sub.substr(0, slash == std::string_view::npos ? 0 : slash));
    if (added) dirs_seen.push_back(&it->second);
    it->second.push_back(i);
  }
  std::vector<uint32_t> order;
  order.reserve(files.size());
  for (size_t round = 0; !dirs_seen.empty(); ++round) {
    for (const auto* d : dirs_seen) order.push_back((*d)[round]);
    std::erase_if(dirs_seen, [&](const auto* d) { return d->size() == round + 1; });
  }
  return order;
}

void DeferredCopy::Run(const CopyAttrs& a) {
  if (a.earlier) {
    EarlierFiles& e = *a.earlier;
    e.from_top = from_top;
    e.to_top_rel = to_top.compare(0, root_prefix.size(), root_prefix) == 0 ? to_top.substr(root_prefix.size()) : "";
    e.uid = a.uid;
    e.gid = a.gid;
    e.chmod = a.chmod;
    if (e.donor_from_top.empty()) {
      e.tree_top_rel = e.to_top_rel;
    } else if (IsAtOrBelow(from_top, e.donor_from_top)) {
      std::string rest = from_top.substr(e.donor_from_top.size());
      if (!rest.empty() && rest.front() != '/') rest.insert(0, "/");  // the donor's top was "/"
      e.tree_top_rel = e.donor_to_top_rel + rest;
    } else {
      e.tree.clear();  // the donor copied other files
    }
  }
  const bool may_link = a.earlier && !a.earlier->tree.empty() && to_top.compare(0, root_prefix.size(), root_prefix) == 0;
  const std::vector<uint32_t> order = DirectoriesInTurn();
  std::atomic<bool> range_unsupported{false};  // copy_file_range failed between the filesystems
  sandbox::ParallelFor(order.size(), [&](size_t k) {
    const File& f = files[order[k]];
    if (may_link && LeaveForEarlier(f, a)) return;
    const std::string to = to_top + f.sub;
    const bool fresh = CopyRegular(from_top + f.sub, to, &range_unsupported);
    SetOwnerMode(to, f.m.mode, a, false, fresh);
    SetTimes(to, f.m.atime, f.m.mtime);
  }, 32);
  for (const Dir& d : dirs) {
    const std::string to = to_top + d.sub;
    if (d.owner_mode) SetOwnerMode(to, d.m.mode, a, false);
    SetTimes(to, d.m.atime, d.m.mtime);
  }
}

void CopyEntry(const fs::path& from, const fs::path& to, const std::string& rel,
               const CopyAttrs& a, bool top, DeferredCopy& later);

void CopyDirContents(const fs::path& from, const fs::path& to, const std::string& rel,
                     const CopyAttrs& a, DeferredCopy& later) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(from, ec)) names.push_back(e.path().filename().string());
  if (ec) throw Error({"read directory", from.string(), ec.message()});
  for (const auto& n : names) {
    std::string child = rel.empty() ? n : rel + "/" + n;
    if (a.include && !a.include(child)) continue;
    CopyEntry(from / n, to / n, child, a, false, later);
  }
}

void CopyEntry(const fs::path& from, const fs::path& to, const std::string& rel,
               const CopyAttrs& a, bool top, DeferredCopy& later) {
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0) Fail("stat", from);
  if (S_ISDIR(st.st_mode)) {
    struct stat old {};
    bool exists = ::lstat(to.c_str(), &old) == 0;
    if (exists && !S_ISDIR(old.st_mode)) {
      ::unlink(to.c_str());
      exists = false;
    }
    if (!exists && ::mkdir(to.c_str(), 0755) != 0) Fail("mkdir", to);
    CopyDirContents(from, to, rel, a, later);
    // An existing destination directory keeps its owner and mode (docker).
    later.dirs.push_back({later.Sub(from), DeferredCopy::MetaOf(st), !exists || !top});
  } else if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    fs::path target = fs::read_symlink(from, ec);
    if (ec) throw Error({"readlink", from.string(), ec.message()});
    struct stat old {};
    if (::lstat(to.c_str(), &old) == 0) {
      if (S_ISDIR(old.st_mode)) fs::remove_all(to, ec);
      else ::unlink(to.c_str());
    }
    if (::symlink(target.c_str(), to.c_str()) != 0) Fail("symlink", to);
    SetOwnerMode(to, st.st_mode, a, true);
    SetTimes(to, st.st_atim, st.st_mtim);
  } else if (S_ISREG(st.st_mode)) {
    later.files.push_back({later.Sub(from), DeferredCopy::MetaOf(st)});
  } else {
    // Sockets, fifos and devices have no place in a build context copy.
    return;
  }
}

}  // namespace

std::vector<CopyTarget> PlanCopy(const std::vector<CopySource>& sources, const std::string& dest,
                                 const std::string& workdir, size_t source_args, bool parents,
                                 const std::function<bool(const std::string&)>& dest_is_dir) {
  if (dest.empty()) throw Error({"destination can not be empty"});  // docker's words
  const bool slash = dest.back() == '/' || dest == "." || dest == ".." ||
                     (dest.size() >= 2 && dest.compare(dest.size() - 2, 2, "/.") == 0);
  if (source_args > 1 && !slash)
    throw Error({"When using COPY with more than one source file, the destination must be a directory and end with a /"});
  const std::string abs = JoinWorkdir(workdir, dest);
  const bool as_dir = slash || sources.size() > 1 || parents || (dest_is_dir && dest_is_dir(abs));
  std::vector<CopyTarget> out;
  for (const auto& s : sources) {
    CopyTarget t;
    t.source = s;
    if (parents && !s.rel.empty()) {
      t.dest = JoinWorkdir(abs, s.rel);
      t.contents = s.is_dir;
    } else if (s.is_dir) {
      t.dest = abs;
      t.contents = true;
    } else {
      t.dest = as_dir ? JoinWorkdir(abs, Basename(s.rel.empty() ? s.host_path.filename().string() : s.rel)) : abs;
    }
    out.push_back(std::move(t));
  }
  return out;
}

fs::path MkdirAllInRoot(const fs::path& rootfs, const std::string& path, uid_t uid, gid_t gid) {
  std::string prefix;
  for (const auto& c : Split(path)) {
    prefix += "/" + c;
    fs::path host = sandbox::ResolveInRoot(rootfs, prefix, true);
    struct stat st {};
    if (::lstat(host.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        throw Error({"cannot create directory", prefix, "a file of that name exists in the image"});
      continue;
    }
    if (::mkdir(host.c_str(), 0755) != 0 && errno != EEXIST) Fail("mkdir", host);
    sandbox::SetOwner(host.string(), uid, gid);
    ::chmod(host.c_str(), 0755);  // umask must not decide image content
  }
  return sandbox::ResolveInRoot(rootfs, path, true);
}

void CopyInto(const fs::path& rootfs, const CopyTarget& t, const CopyAttrs& a) {
  if (t.contents) {
    fs::path dst = sandbox::ResolveInRoot(rootfs, t.dest, true);
    struct stat st {};
    const bool existed = ::lstat(dst.c_str(), &st) == 0;
    dst = MkdirAllInRoot(rootfs, t.dest, a.uid, a.gid);
    DeferredCopy later(rootfs, t.source.host_path, dst);
    CopyDirContents(t.source.host_path, dst, t.source.rel, a, later);
    later.Run(a);
    if (!existed) sandbox::SetOwner(dst.string(), a.uid, a.gid);
    later.KeepForLinks(dst, a);
    return;
  }
  const std::string parent = fs::path(t.dest).parent_path().string();
  MkdirAllInRoot(rootfs, parent.empty() ? "/" : parent, a.uid, a.gid);
  fs::path dst = sandbox::ResolveInRoot(rootfs, t.dest, false);
  DeferredCopy later(rootfs, t.source.host_path, dst);
  CopyEntry(t.source.host_path, dst, t.source.rel, a, true, later);
  later.Run(a);
  later.KeepForLinks(dst.parent_path(), a);
}

namespace {
std::string BelowRoot(std::string rel) {
  if (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  return rel;
}
}  // namespace

bool IsAtOrBelow(std::string_view path, std::string_view top) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  while (top.size() > 1 && top.back() == '/') top.remove_suffix(1);
  return path == top || (path.starts_with(top) && (top == "/" || path[top.size()] == '/'));
}

std::string EarlierFiles::Rel(const std::string& p) const { return BelowRoot(to_top_rel + p); }
std::string EarlierFiles::TreeRel(const std::string& p) const { return BelowRoot(tree_top_rel + p); }

void LinkEarlierFiles(const fs::path& upper, EarlierFiles& earlier) {
  for (const auto& p : earlier.pending) {
    const std::string rel = earlier.Rel(p);
    const fs::path at = upper / rel;
    if (::link((earlier.tree / earlier.TreeRel(p)).c_str(), at.c_str()) == 0) {
      ++earlier.linked;
      continue;
    }
    const std::string from = earlier.from_top + p;
    struct stat src {};
    if (::lstat(from.c_str(), &src) != 0) Fail("stat", from);
    CopyRegular(from, at);
    sandbox::SetOwner(at.string(), earlier.uid, earlier.gid);
    if (::chmod(at.c_str(), WantedMode(src.st_mode, earlier.chmod)) != 0) Fail("chmod", at);
    SetTimes(at, src.st_atim, src.st_mtim);
    ++earlier.copied;
  }
  if (earlier.pending.empty()) return;
  for (const auto& d : earlier.dir_times) SetTimes(upper / d.rel, d.atime, d.mtime);
}

void WriteFileInRoot(const fs::path& rootfs, const std::string& dest, const std::string& content,
                     const CopyAttrs& a, mode_t mode) {
  const std::string parent = fs::path(dest).parent_path().string();
  MkdirAllInRoot(rootfs, parent.empty() ? "/" : parent, a.uid, a.gid);
  fs::path dst = sandbox::ResolveInRoot(rootfs, dest, false);
  ::unlink(dst.c_str());
  sandbox::UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out.valid()) Fail("create", dst);
  sandbox::WriteAll(out.get(), content.data(), content.size(), dst.string());
  sandbox::SetOwnerFd(out.get(), a.uid, a.gid, dst.string());
  if (::fchmod(out.get(), a.chmod ? *a.chmod : mode) != 0) Fail("chmod", dst);
}

bool IsTarArchive(const fs::path& file) {
  // The opener ExtractLayer uses, so that whatever is detected here also
  // extracts (docker's set: plain, gzip, bzip2, xz, zstd). Anything else,
  // e.g. a gzip of a non-tar file, is not an archive and is copied as is.
  oci::ArchiveReadPtr a;
  try {
    a = oci::OpenLayerBlob(file);
  } catch (const oci::Error&) {
    return false;
  }
  archive_entry* e = nullptr;
  return archive_read_next_header(a.get(), &e) == ARCHIVE_OK;
}

mode_t ParseChmod(const std::string& text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
    throw Error({"invalid --chmod value", "'" + text + "'", "expected an octal mode like 0755"});
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

}  // namespace kiln::builder
