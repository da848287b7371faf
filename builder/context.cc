#include "builder/context.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

#include "oci/file_util.h"
#include "oci/parallel.h"

namespace kiln::builder {

namespace fs = std::filesystem;

bool ContextEntry::is_dir() const { return S_ISDIR(mode); }
bool ContextEntry::is_symlink() const { return S_ISLNK(mode); }
bool ContextEntry::is_regular() const { return S_ISREG(mode); }

// ---- stat cache ----

// One line per file, "SIZE MTIME_NS CTIME_NS INO MODE HEX PATH": built and
// read without a JSON tree, which for a 20,000-file context cost more memory
// (about 12 MB at the peak of a build) than the rest of the context index.
// Paths with a newline are not remembered (they are hashed every time).
constexpr std::string_view kStatCacheMagic = "kiln-stat-cache 2\n";

namespace {

// A sha256 as 64 lower-case hex digits <-> its 32 bytes.
bool PackHex(std::string_view hex, std::array<unsigned char, 32>& out) {
  auto nibble = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

std::string UnpackHex(const std::array<unsigned char, 32>& sum) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '\0');
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kDigits[sum[i] >> 4];
    out[2 * i + 1] = kDigits[sum[i] & 15];
  }
  return out;
}

}  // namespace

StatCache::StatCache(fs::path file) : file_(std::move(file)) {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return;
  try {
    const std::string text = oci::ReadFileToString(file_);
    if (!std::string_view(text).starts_with(kStatCacheMagic)) return;
    const char* p = text.data() + kStatCacheMagic.size();
    const char* const end = text.data() + text.size();
    auto number = [&](auto& out) {
      auto [next, err] = std::from_chars(p, end, out);
      if (err != std::errc() || next == end || *next != ' ') throw std::runtime_error("bad number");
      p = next + 1;
    };
    while (p < end) {
      Meta m{};
      number(m.size);
      number(m.mtime_ns);
      number(m.ctime_ns);
      number(m.ino);
      number(m.mode);
      if (end - p < 65 || p[64] != ' ') throw std::runtime_error("bad digest");
      if (!PackHex(std::string_view(p, 64), m.sum)) throw std::runtime_error("bad digest");
      p += 65;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) throw std::runtime_error("unterminated line");
      files_.emplace(std::string(p, nl), std::move(m));
      p = nl + 1;
    }
  } catch (const std::exception&) {
    files_.clear();  // a damaged cache only costs re-reading the files
  }
}

void StatCache::Adopt(const std::vector<ContextEntry>& entries, std::mutex* mu) {
  std::lock_guard lock(mu_);
  std::lock_guard entries_lock(*mu);
  for (const ContextEntry& e : entries) {
    auto it = files_.find(e.path);
    if (it == files_.end()) continue;
    const Meta& m = it->second;
    if (m.size == e.size && m.mtime_ns == e.mtime_ns && m.ctime_ns == e.ctime_ns && m.ino == e.ino && m.mode == e.mode) {
      e.sum = m.sum;
      e.hashed = true;
    }
  }
  files_.clear();
  entries_ = &entries;
  entries_mu_ = mu;
}

void StatCache::CountHit() {
  std::lock_guard lock(mu_);
  ++hits_;
}

void StatCache::CountMiss() {
  std::lock_guard lock(mu_);
  ++misses_;
  dirty_ = true;
}

void StatCache::Save() const {
  std::lock_guard lock(mu_);
  if (!dirty_ || file_.empty() || !entries_) return;
  std::lock_guard entries_lock(*entries_mu_);
  std::string text(kStatCacheMagic);
  size_t need = text.size();
  for (const ContextEntry& e : *entries_)
    if (e.hashed) need += e.path.size() + 64 + 5 * 21;
  text.reserve(need);
  char num[24];
  auto add = [&](auto v) {
    auto [end, err] = std::to_chars(num, num + sizeof num, v);
    text.append(num, end).push_back(' ');
  };
  for (const ContextEntry& e : *entries_) {
    if (!e.hashed || e.path.find('\n') != std::string::npos) continue;
    add(e.size);
    add(e.mtime_ns);
    add(e.ctime_ns);
    add(e.ino);
    add(e.mode);
    text.append(UnpackHex(e.sum)).push_back(' ');
    text.append(e.path).push_back('\n');
  }
  std::error_code ec;
  fs::create_directories(file_.parent_path(), ec);
  oci::WriteFileAtomic(file_, text);
}

// ---- matching ----

bool PathMatch(const std::string& pattern, const std::string& path) {
  // glibc fnmatch with FNM_PATHNAME has Go's rules: '*' and '?' stop at '/',
  // '\\' escapes, and both "[^...]" (Go) and "[!...]" negate.
  return ::fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0;
}

std::string BuildContext::CleanSource(const std::string& source) {
  std::string s = fs::path("/" + source).lexically_normal().string();
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s == ".") s.clear();
  return s;
}

bool BuildContext::HasWildcard(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

// ---- the context ----

BuildContext::BuildContext(fs::path root, frontend::IgnoreMatcher ignore, StatCache* cache)
    : root_(std::move(root)), ignore_(std::move(ignore)), cache_(cache) {
  struct stat st {};
  if (::stat(root_.c_str(), &st) != 0)
    throw std::runtime_error("build context " + root_.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error("build context " + root_.string() + ": not a directory");
  root_entry_.path = "";
  root_entry_.mode = st.st_mode;
}

void BuildContext::Walk() {
  // Depth-first with an explicit stack; lstat only, never reads content.
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string dir = stack.back();
    stack.pop_back();
    fs::path abs = dir.empty() ? root_ : root_ / dir;
    DIR* d = ::opendir(abs.c_str());
    if (!d) throw std::runtime_error("build context: open " + abs.string() + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    for (const auto& n : names) {
      std::string rel = dir.empty() ? n : dir + "/" + n;
      struct stat st {};
      if (::lstat((root_ / rel).c_str(), &st) != 0)
        throw std::runtime_error("build context: stat " + rel + ": " + std::strerror(errno));
      const bool excluded = !ignore_.empty() && ignore_.Excluded(rel);
      if (S_ISDIR(st.st_mode) && (!excluded || ignore_.MayIncludeBelow(rel))) stack.push_back(rel);
      if (excluded) {
        hidden_.push_back(rel);
        continue;
      }
      ContextEntry e;
      e.path = rel;
      e.mode = st.st_mode;
      e.size = st.st_size;
      e.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
      e.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
      e.ino = st.st_ino;
      if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        e.link_target = fs::read_symlink(root_ / rel, ec).string();
      }
      entries_.push_back(std::move(e));
    }
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const ContextEntry& a, const ContextEntry& b) { return a.path < b.path; });
  entries_.shrink_to_fit();  // held for the whole build: no slack from growth
  if (cache_) cache_->Adopt(entries_, &digest_mu_);
  // Of the excluded paths keep the topmost ones that hide something: an
  // excluded directory that holds a re-included entry ("!build/keep") stays
  // visible as that entry's parent.
  std::sort(hidden_.begin(), hidden_.end());  // parents first
  std::vector<std::string> top;
  std::set<std::string> top_set;
  auto under_top = [&](const std::string& h) {
    for (size_t slash = h.find('/'); slash != std::string::npos; slash = h.find('/', slash + 1))
      if (top_set.count(h.substr(0, slash))) return true;
    return false;
  };
  for (auto& h : hidden_) {
    const std::string below = h + "/";
    if (under_top(h)) continue;
    auto it = std::lower_bound(entries_.begin(), entries_.end(), below,
                               [](const ContextEntry& e, const std::string& p) { return e.path < p; });
    if (it != entries_.end() && it->path.compare(0, below.size(), below) == 0) continue;
    top_set.insert(h);
    top.push_back(std::move(h));
  }
  hidden_ = std::move(top);
  walked_ = true;
}

const std::vector<std::string>& BuildContext::Hidden() {
  Entries();
  return hidden_;
}

const std::vector<ContextEntry>& BuildContext::Entries() {
  std::lock_guard lock(mu_);
  if (!walked_) Walk();
  return entries_;
}

const ContextEntry* BuildContext::Find(const std::string& rel_path) {
  Entries();
  if (rel_path.empty()) return &root_entry_;
  // entries_ is sorted by path: a binary search, no second copy of every path.
  auto it = std::lower_bound(entries_.begin(), entries_.end(), rel_path,
                             [](const ContextEntry& e, const std::string& p) { return e.path < p; });
  return it != entries_.end() && it->path == rel_path ? &*it : nullptr;
}

std::vector<const ContextEntry*> BuildContext::Match(const std::string& source) {
  const std::string clean = CleanSource(source);
  std::vector<const ContextEntry*> out;
  if (!HasWildcard(clean)) {
    if (const ContextEntry* e = Find(clean)) out.push_back(e);
    if (out.empty()) throw std::runtime_error("file not found in build context");
    return out;
  }
  for (const auto& e : Entries())
    if (PathMatch(clean, e.path)) out.push_back(&e);
  if (out.empty()) throw std::runtime_error("no source files were specified (nothing matches in the build context)");
  return out;
}

std::vector<const ContextEntry*> BuildContext::Below(const ContextEntry& top,
                                                     const std::vector<std::string>& excludes) {
  auto excluded = [&](const std::string& p) {
    for (const auto& x : excludes)
      if (PathMatch(CleanSource(x), p)) return true;
    return false;
  };
  std::vector<const ContextEntry*> out;
  if (!top.path.empty()) {
    if (excluded(top.path)) return out;
    out.push_back(&top);
  }
  if (!top.is_dir()) return out;
  const auto& all = Entries();
  const std::string prefix = top.path.empty() ? "" : top.path + "/";
  auto it = std::lower_bound(all.begin(), all.end(), prefix,
                             [](const ContextEntry& e, const std::string& p) { return e.path < p; });
  std::string skip;  // an excluded directory hides everything below it
  for (; it != all.end() && it->path.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (!skip.empty() && it->path.compare(0, skip.size(), skip) == 0) continue;
    if (excluded(it->path)) {
      if (it->is_dir()) skip = it->path + "/";
      continue;
    }
    out.push_back(&*it);
  }
  return out;
}

oci::Digest BuildContext::FileDigest(const ContextEntry& e) {
  std::optional<oci::Digest> known;
  {
    std::lock_guard lock(digest_mu_);
    if (e.hashed) known = oci::Digest{"sha256", UnpackHex(e.sum)};
  }
  if (known) {
    // Counted outside digest_mu_: Save takes the cache's lock, then that one.
    if (cache_) cache_->CountHit();
    return *known;
  }
  oci::Digest d = oci::Sha256OfFile(root_ / e.path);
  if (cache_) cache_->CountMiss();
  std::lock_guard lock(digest_mu_);
  e.hashed = PackHex(d.hex, e.sum);
  return d;
}

oci::Digest BuildContext::SourcesDigest(const std::vector<const ContextEntry*>& matches,
                                        const std::vector<std::string>& excludes) {
  oci::Sha256 h;
  auto field = [&](const std::string& s) {
    h.Update(std::to_string(s.size()) + ":");
    h.Update(s);
  };
  // The files are hashed on every core first (a big context is mostly
  // reading and SHA-256), then the digest is taken in order.
  std::vector<std::vector<const ContextEntry*>> below;
  std::vector<const ContextEntry*> files;
  for (const ContextEntry* top : matches) {
    below.push_back(Below(*top, excludes));
    for (const ContextEntry* e : below.back())
      if (e->is_regular()) files.push_back(e);
  }
  std::vector<std::string> hexes(files.size());
  oci::ParallelFor(files.size(), [&](size_t i) { hexes[i] = FileDigest(*files[i]).hex; }, 64);
  size_t file_index = 0;

  for (size_t m = 0; m < matches.size(); ++m) {
    const ContextEntry* top = matches[m];
    field("match");
    field(top->path);
    for (const ContextEntry* e : below[m]) {
      field(e->path);
      field(std::to_string(e->mode));
      if (e->is_symlink()) field(e->link_target);
      if (e->is_regular()) field(hexes[file_index++]);
    }
  }
  {
    std::lock_guard lock(digest_mu_);
    for (const auto& b : below)
      for (const ContextEntry* e : b) e->read = true;
  }
  return h.Final();
}

oci::Digest BuildContext::ReadDigest(size_t* count) const {
  std::lock_guard lock(digest_mu_);
  oci::Sha256 h;
  auto field = [&](const std::string& s) {
    h.Update(std::to_string(s.size()) + ":");
    h.Update(s);
  };
  size_t n = 0;
  for (const ContextEntry& e : entries_) {  // sorted by path
    if (!e.read) continue;
    ++n;
    field(e.path);
    // "mode\0link\0content hex", link and digest where they apply
    std::string record = std::to_string(e.mode);
    record.push_back('\0');
    if (e.is_symlink()) record.append(e.link_target);
    record.push_back('\0');
    if (e.is_regular()) record.append(UnpackHex(e.sum));
    field(record);
  }
  if (count) *count = n;
  return h.Final();
}

}  // namespace kiln::builder
