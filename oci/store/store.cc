#include "oci/store/store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <set>

#include "oci/error.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "oci/store/store_internal.h"
#include "oci/layer/tree_digest.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {


std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 12; ++i, v >>= 4) s.push_back(kHex[v & 15]);
  return s;
}

void MkdirP(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) throw Error("store: create " + p.string() + ": " + ec.message());
}

}  // namespace

// ---- internal helpers shared by store_gc.cc ----

FlockGuard::FlockGuard(const fs::path& file, bool exclusive) {
  fd_ = sandbox::UniqueFd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_.valid()) ThrowErrno("store: open lock " + file.string());
  while (::flock(fd_.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) ThrowErrno("store: flock " + file.string());
  }
}

FlockGuard::~FlockGuard() {
  if (fd_.valid()) ::flock(fd_.get(), LOCK_UN);
}

std::string TempName(std::string_view prefix) {
  return std::string(prefix) + "." + std::to_string(::getpid()) + "." + RandomSuffix();
}

Index ReadStoreIndex(const fs::path& root) {
  auto p = root / "index.json";
  if (!fs::exists(p)) return Index{};
  return ParseIndex(sandbox::ReadFileToString(p));
}

void RemoveTree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (!ec) return;
  // Read-only directories (e.g. 0555 from a layer) block unlinking their
  // children: make every directory writable, then retry.
  auto st = fs::symlink_status(p, ec);
  if (!ec && fs::is_directory(st)) {
    ::chmod(p.c_str(), 0700);
    for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    }
  }
  ec.clear();
  fs::remove_all(p, ec);
  if (ec) throw Error("store: remove " + p.string() + ": " + ec.message());
}

// ---- Store ----

Store::Store(fs::path root) : root_(std::move(root)) {
  MkdirP(root_ / "blobs" / "sha256");
  MkdirP(root_ / "layers");
  MkdirP(root_ / "tmp");
  if (!fs::exists(root_ / "oci-layout") || !fs::exists(root_ / "index.json")) {
    FlockGuard g(root_ / "index.lock", true);
    if (!fs::exists(root_ / "oci-layout"))
      sandbox::WriteFileAtomic(root_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    if (!fs::exists(root_ / "index.json")) sandbox::WriteFileAtomic(root_ / "index.json", ToJson(Index{}));
  }
}

fs::path Store::DefaultRoot() {
  if (const char* r = std::getenv("KILN_ROOT"); r && *r) return r;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return fs::path(x) / "kiln";
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw Error("store: neither KILN_ROOT, XDG_DATA_HOME nor HOME is set");
  return fs::path(home) / ".local" / "share" / "kiln";
}

fs::path Store::BlobPath(const Digest& d) const {
  if (d.hex.empty()) throw Error("store: empty digest");
  return root_ / "blobs" / d.algorithm / d.hex;
}

bool Store::HasBlob(const Digest& d) const {
  struct stat st {};
  return !d.hex.empty() && ::stat(BlobPath(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct Store::BlobWriter::Impl {
  fs::path root;
  fs::path tmp;
  sandbox::UniqueFd fd;
  Sha256 hash;
  int64_t size = 0;
  bool committed = false;
};

Store::BlobWriter::BlobWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::BlobWriter::BlobWriter(BlobWriter&&) noexcept = default;

Store::BlobWriter::~BlobWriter() {
  if (impl_ && !impl_->committed && !impl_->tmp.empty()) ::unlink(impl_->tmp.c_str());
}

void Store::BlobWriter::Write(const void* data, size_t size) {
  if (impl_->committed) throw Error("store: write to committed blob " + impl_->tmp.string());
  impl_->hash.Update(data, size);
  sandbox::WriteAll(impl_->fd.get(), data, size, "store: blob " + impl_->tmp.string());
  impl_->size += static_cast<int64_t>(size);
}

int64_t Store::BlobWriter::size() const { return impl_->size; }

Descriptor Store::BlobWriter::Commit(const std::string& media_type, const std::optional<Digest>& expected) {
  if (impl_->committed) throw Error("store: blob committed twice");
  Digest d = impl_->hash.Final();
  if (expected && *expected != d) {
    throw Error("store: blob digest mismatch: expected " + expected->str() + ", got " + d.str() + " (" +
                std::to_string(impl_->size) + " bytes)");
  }
  if (::fsync(impl_->fd.get()) != 0) ThrowErrno("store: fsync " + impl_->tmp.string());
  impl_->fd.Reset();
  auto dir = impl_->root / "blobs" / d.algorithm;
  auto final_path = dir / d.hex;
  // Same name means same content, so replacing an existing blob is harmless
  // (and repairs a corrupt one).
  if (::rename(impl_->tmp.c_str(), final_path.c_str()) != 0)
    ThrowErrno("store: rename " + impl_->tmp.string() + " -> " + final_path.string());
  impl_->committed = true;
  sandbox::FsyncDir(dir);
  Descriptor desc;
  desc.media_type = media_type;
  desc.digest = d;
  desc.size = impl_->size;
  return desc;
}

Store::BlobWriter Store::NewBlob() const {
  auto impl = std::make_unique<BlobWriter::Impl>();
  impl->root = root_;
  impl->tmp = root_ / "tmp" / TempName("blob");
  impl->fd = sandbox::UniqueFd(::open(impl->tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!impl->fd.valid()) ThrowErrno("store: create " + impl->tmp.string());
  return BlobWriter(std::move(impl));
}

Descriptor Store::PutBlob(std::string_view data, const std::string& media_type) const {
  auto w = NewBlob();
  w.Write(data.data(), data.size());
  return w.Commit(media_type);
}

Descriptor Store::ImportBlob(const fs::path& file, const std::string& media_type) const {
  sandbox::UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) ThrowErrno("store: import " + file.string() + ": open");
  auto w = NewBlob();
  std::unique_ptr<char[]> buf(new char[1 << 17]);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.get(), 1 << 17);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("store: import " + file.string() + ": read");
    }
    if (n == 0) break;
    w.Write(buf.get(), static_cast<size_t>(n));
  }
  return w.Commit(media_type);
}

std::string Store::ReadBlob(const Digest& d, bool verify) const {
  auto p = BlobPath(d);
  std::string data;
  try {
    data = sandbox::ReadFileToString(p);
  } catch (const sandbox::Error& e) {
    throw Error("store: read blob " + d.str() + ": " + e.what());
  }
  if (verify) {
    Digest got = Sha256Of(data);
    if (got != d) throw Error("store: blob " + d.str() + " is corrupt: content hashes to " + got.str());
  }
  return data;
}

// ---- tags ----

namespace {
void WriteStoreIndex(const fs::path& root, Index idx) {
  std::stable_sort(idx.manifests.begin(), idx.manifests.end(), [](const Descriptor& a, const Descriptor& b) {
    auto ra = a.annotations.count(media::kRefNameAnnotation) ? a.annotations.at(media::kRefNameAnnotation) : std::string();
    auto rb = b.annotations.count(media::kRefNameAnnotation) ? b.annotations.at(media::kRefNameAnnotation) : std::string();
    return ra < rb;
  });
  sandbox::WriteFileAtomic(root / "index.json", ToJson(idx));
}

bool HasRef(const Descriptor& d, const std::string& ref) {
  auto it = d.annotations.find(media::kRefNameAnnotation);
  return it != d.annotations.end() && it->second == ref;
}
}  // namespace

void Store::SetTag(const std::string& ref, const Descriptor& manifest) {
  if (ref.empty()) throw Error("store: set tag: empty reference");
  FlockGuard g(root_ / "index.lock", true);
  Index idx = ReadStoreIndex(root_);
  std::erase_if(idx.manifests, [&](const Descriptor& d) { return HasRef(d, ref); });
  Descriptor d = manifest;
  d.annotations[media::kRefNameAnnotation] = ref;
  idx.manifests.push_back(d);
  WriteStoreIndex(root_, std::move(idx));
}

std::optional<Descriptor> Store::ResolveTag(const std::string& ref) const {
  // index.json is only ever replaced by rename, so reading needs no lock.
  Index idx = ReadStoreIndex(root_);
  for (auto& d : idx.manifests) {
    if (HasRef(d, ref)) {
      Descriptor out = d;
      out.annotations.erase(media::kRefNameAnnotation);
      return out;
    }
  }
  return std::nullopt;
}

bool Store::RemoveTag(const std::string& ref) {
  FlockGuard g(root_ / "index.lock", true);
  Index idx = ReadStoreIndex(root_);
  auto n = std::erase_if(idx.manifests, [&](const Descriptor& d) { return HasRef(d, ref); });
  if (n == 0) return false;
  WriteStoreIndex(root_, std::move(idx));
  return true;
}

std::vector<std::pair<std::string, Descriptor>> Store::ListTags() const {
  std::vector<std::pair<std::string, Descriptor>> out;
  for (auto& d : ReadStoreIndex(root_).manifests) {
    auto it = d.annotations.find(media::kRefNameAnnotation);
    if (it == d.annotations.end()) continue;
    Descriptor c = d;
    c.annotations.erase(media::kRefNameAnnotation);
    out.emplace_back(it->second, c);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return out;
}

// ---- layer dirs ----

fs::path Store::LayerDir(const Digest& diff_id) const { return root_ / "layers" / diff_id.hex; }

bool Store::HasLayerDir(const Digest& diff_id) const {
  return fs::exists(root_ / "layers" / (diff_id.hex + ".done"));
}

void Store::AdoptLayerDir(const fs::path& dir, const Digest& diff_id) const {
  if (HasLayerDir(diff_id)) {
    RemoveTree(dir);
    return;
  }
  // Outside the lock: it reads the whole tree.
  const Digest tree = TreeDigest(dir);
  // Short critical section: decide the winner and publish atomically.
  FlockGuard g(root_ / "index.lock", true);
  auto target = LayerDir(diff_id);
  auto done = root_ / "layers" / (diff_id.hex + ".done");
  if (fs::exists(done)) {
    RemoveTree(dir);
    return;
  }
  if (fs::exists(fs::symlink_status(target))) RemoveTree(target);  // left by a crash before .done
  if (::rename(dir.c_str(), target.c_str()) != 0)
    ThrowErrno("store: adopt layer " + diff_id.str() + ": rename " + dir.string() + " -> " + target.string());
  sandbox::FsyncDir(root_ / "layers");
  sandbox::WriteFileAtomic(done, diff_id.str() + "\ntree " + tree.str() + "\n");
}

std::optional<Digest> Store::LayerTreeDigest(const Digest& diff_id) const {
  const auto done = root_ / "layers" / (diff_id.hex + ".done");
  if (!fs::exists(done)) return std::nullopt;
  const std::string text = sandbox::ReadFileToString(done);
  const auto at = text.find("\ntree ");
  if (at == std::string::npos) return std::nullopt;
  const auto start = at + 6;
  return Digest::Parse(text.substr(start, text.find('\n', start) - start));
}

std::vector<Digest> Store::ListLayerDirs() const {
  std::vector<Digest> out;
  for (auto& e : fs::directory_iterator(root_ / "layers")) {
    const std::string name = e.path().filename().string();
    if (!name.ends_with(".done")) continue;
    try {
      out.push_back(Digest::Parse("sha256:" + name.substr(0, name.size() - 5)));
    } catch (const Error&) {
      // not a layer marker; left alone
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Store::RecordDiffId(const Digest& blob, const Digest& diff_id) const {
  MkdirP(root_ / "diff-ids");
  sandbox::WriteFileAtomic(root_ / "diff-ids" / blob.hex, diff_id.str() + "\n");
}

std::optional<Digest> Store::RecordedDiffId(const Digest& blob) const {
  const auto p = root_ / "diff-ids" / blob.hex;
  if (!fs::exists(p)) return std::nullopt;
  std::string text = sandbox::ReadFileToString(p);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return Digest::Parse(text);
}

// ---- temp dirs ----

Store::TempDir::~TempDir() {
  if (path_.empty()) return;
  // A destructor cannot report failure; what is left is swept by
  // SweepStaleTemp() once this process is gone.
  try {
    RemoveTree(path_);
  } catch (...) {
  }
}

Store::TempDir Store::MakeTempDir(std::string_view prefix) const {
  auto p = root_ / "tmp" / TempName(prefix);
  if (::mkdir(p.c_str(), 0700) != 0) ThrowErrno("store: mkdir " + p.string());
  return TempDir(p);
}

void Store::SweepStaleTemp() const {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "tmp", ec)) {
    // Names are "<prefix>.<pid>.<random>".
    std::string name = e.path().filename().string();
    auto last = name.rfind('.');
    if (last == std::string::npos || last == 0) continue;
    auto prev = name.rfind('.', last - 1);
    if (prev == std::string::npos) continue;
    std::string pid_s = name.substr(prev + 1, last - prev - 1);
    if (pid_s.empty() || pid_s.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!sandbox::ProcessIsGone(static_cast<pid_t>(std::stol(pid_s)))) continue;  // alive (or not ours to judge)
    RemoveTree(e.path());
  }
  if (ec) throw Error("store: sweep " + (root_ / "tmp").string() + ": " + ec.message());
  // WriteFileAtomic's temp files of killed processes, beside what they were
  // to replace: index.json, layers/<hex>.done, and files of folders two deep
  // (cache/steps/, added by upper layers). Not inside layers/<hex>/ (image
  // trees, whose files are the image's own) nor blobs/ (written via tmp/).
  sandbox::RemoveStaleAtomicTemps(root_);
  for (const auto& top : fs::directory_iterator(root_, ec)) {
    const std::string name = top.path().filename().string();
    if (!top.is_directory(ec) || top.is_symlink(ec) || name == "tmp" || name == "blobs") continue;
    sandbox::RemoveStaleAtomicTemps(top.path());
    if (name == "layers") continue;
    std::error_code sub_ec;
    for (const auto& sub : fs::directory_iterator(top.path(), sub_ec)) {
      if (sub.is_directory(sub_ec) && !sub.is_symlink(sub_ec)) sandbox::RemoveStaleAtomicTemps(sub.path());
    }
  }
}

// ---- lock ----

Store::Lock::Lock(const Store& s, bool exclusive) {
  auto file = s.root() / "lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) ThrowErrno("store: open lock " + file.string());
  while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) {
      int e = errno;
      ::close(fd_);
      errno = e;
      ThrowErrno("store: flock " + file.string());
    }
  }
}

Store::Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace kiln::oci
