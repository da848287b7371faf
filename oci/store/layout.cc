// OCI image layout import/export and docker-archive export.
#include "oci/store/layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/store/store_internal.h"

namespace kiln::oci {

namespace fs = std::filesystem;

namespace {

constexpr const char* kOciLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

fs::path LayoutBlob(const fs::path& dir, const Digest& d) { return dir / "blobs" / d.algorithm / d.hex; }

// Streams `src` into the store, checking it is what `desc` says.
void ImportVerified(Store& store, const fs::path& src, const Descriptor& desc) {
  if (store.HasBlob(desc.digest)) return;
  sandbox::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) ThrowErrno("import layout: open blob " + src.string());
  auto w = store.NewBlob();
  std::unique_ptr<char[]> buf(new char[1 << 17]);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.get(), 1 << 17);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("import layout: read " + src.string());
    }
    if (n == 0) break;
    w.Write(buf.get(), static_cast<size_t>(n));
  }
  if (desc.size && w.size() != desc.size)
    throw Error("import layout: blob " + desc.digest.str() + " is " + std::to_string(w.size()) +
                " bytes, descriptor says " + std::to_string(desc.size));
  w.Commit(desc.media_type, desc.digest);
}

void CopyBlobOut(const Store& store, const Digest& d, const fs::path& dir) {
  auto dst = LayoutBlob(dir, d);
  if (fs::exists(dst)) return;
  if (!store.HasBlob(d)) throw Error("export: blob " + d.str() + " is missing from the store");
  fs::create_directories(dst.parent_path());
  auto tmp = dst.parent_path() / ("." + d.hex + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::copy_file(store.BlobPath(d), tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error("export: copy " + d.str() + " to " + tmp.string() + ": " + ec.message());
  if (::rename(tmp.c_str(), dst.c_str()) != 0) ThrowErrno("export: rename " + tmp.string());
}

// Blobs of an image or index, manifests first.
void CollectBlobs(const Store& store, const Descriptor& desc, std::vector<Digest>& out) {
  if (std::find(out.begin(), out.end(), desc.digest) != out.end()) return;
  out.push_back(desc.digest);
  std::string body = store.ReadBlob(desc.digest);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (media::IsIndexMediaType(desc.media_type) || (j.is_object() && j.contains("manifests"))) {
    for (auto& m : ParseIndex(body).manifests) {
      if (store.HasBlob(m.digest)) CollectBlobs(store, m, out);  // other platforms may be absent
    }
    return;
  }
  Manifest m = ParseManifest(body);
  out.push_back(m.config.digest);
  for (auto& l : m.layers) out.push_back(l.digest);
}

Index ReadLayoutIndex(const fs::path& dir) {
  auto p = dir / "index.json";
  if (!fs::exists(p)) throw Error("layout " + dir.string() + ": no index.json");
  return ParseIndex(sandbox::ReadFileToString(p));
}

}  // namespace

void ExportOciLayout(const Store& store, const Descriptor& manifest, const fs::path& dir, const std::string& tag,
                     const std::map<std::string, std::string>& index_annotations) {
  std::error_code ec;
  fs::create_directories(dir / "blobs" / "sha256", ec);
  if (ec) throw Error("export layout: create " + dir.string() + ": " + ec.message());
  std::vector<Digest> blobs;
  CollectBlobs(store, manifest, blobs);
  // Content first, index last: a reader never sees a tag without its blobs.
  for (auto& d : blobs) CopyBlobOut(store, d, dir);
  FlockGuard g(dir / ".kiln-index.lock", true);
  if (!fs::exists(dir / "oci-layout")) sandbox::WriteFileAtomic(dir / "oci-layout", kOciLayoutFile);
  Index idx;
  if (fs::exists(dir / "index.json")) idx = ReadLayoutIndex(dir);
  Descriptor d = manifest;
  d.annotations.erase(media::kRefNameAnnotation);
  if (!tag.empty()) {
    std::erase_if(idx.manifests, [&](const Descriptor& m) {
      auto it = m.annotations.find(media::kRefNameAnnotation);
      return it != m.annotations.end() && it->second == tag;
    });
    d.annotations[media::kRefNameAnnotation] = tag;
  } else {
    std::erase_if(idx.manifests, [&](const Descriptor& m) { return m.digest == d.digest && !m.annotations.count(media::kRefNameAnnotation); });
  }
  idx.manifests.push_back(d);
  for (const auto& [k, v] : index_annotations) idx.annotations[k] = v;
  sandbox::WriteFileAtomic(dir / "index.json", ToJson(idx));
  ::unlink((dir / ".kiln-index.lock").c_str());
}

Descriptor ImportOciLayout(Store& store, const fs::path& dir, const std::string& tag, const Platform& platform) {
  std::string where = "import layout " + dir.string() + (tag.empty() ? "" : ":" + tag);
  Index idx = ReadLayoutIndex(dir);
  std::vector<const Descriptor*> hits;
  for (auto& m : idx.manifests) {
    auto it = m.annotations.find(media::kRefNameAnnotation);
    if (tag.empty() || (it != m.annotations.end() && it->second == tag)) hits.push_back(&m);
  }
  if (hits.empty()) throw Error(where + ": no such image in index.json");
  if (hits.size() > 1) throw Error(where + ": " + std::to_string(hits.size()) + " images match; name a tag");
  Descriptor desc = *hits[0];
  desc.annotations.erase(media::kRefNameAnnotation);
  for (int depth = 0;; ++depth) {
    if (depth > 4) throw Error(where + ": indexes nested too deeply");
    auto path = LayoutBlob(dir, desc.digest);
    if (!fs::exists(path)) throw Error(where + ": blob " + desc.digest.str() + " is missing");
    std::string body = sandbox::ReadFileToString(path);
    if (Sha256Of(body) != desc.digest) throw Error(where + ": blob " + desc.digest.str() + " is corrupt");
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (media::IsIndexMediaType(desc.media_type) || (j.is_object() && j.contains("manifests"))) {
      desc = ChooseManifest(ParseIndex(body), platform, where);
      continue;
    }
    Manifest m = ParseManifest(body);
    if (desc.media_type.empty()) desc.media_type = m.media_type;
    ImportVerified(store, LayoutBlob(dir, m.config.digest), m.config);
    for (auto& l : m.layers) ImportVerified(store, LayoutBlob(dir, l.digest), l);
    ImportVerified(store, path, desc);
    return desc;
  }
}

namespace {

struct TarOut {
  archive* a = nullptr;
  explicit TarOut(const fs::path& file) : a(archive_write_new()) {
    if (!a) throw Error("docker archive: archive_write_new failed");
    archive_write_set_format_pax_restricted(a);
    // "-": stdout, for `kiln build -o type=docker,dest=- . | docker load`.
    const int rc = file == "-" ? archive_write_open_fd(a, STDOUT_FILENO) : archive_write_open_filename(a, file.c_str());
    if (rc != ARCHIVE_OK) throw Error("image archive: open " + file.string() + ": " + archive_error_string(a));
  }
  ~TarOut() { archive_write_free(a); }
  void Header(const std::string& name, int64_t size, bool dir) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, dir ? 0755 : 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    if (archive_write_header(a, e) < ARCHIVE_WARN) {
      std::string msg = archive_error_string(a);
      archive_entry_free(e);
      throw Error("docker archive: header " + name + ": " + msg);
    }
    archive_entry_free(e);
  }
  void Data(const void* p, size_t n, const std::string& name) {
    if (archive_write_data(a, p, n) < 0) throw Error("docker archive: write " + name + ": " + archive_error_string(a));
  }
  void String(const std::string& name, const std::string& body) {
    Header(name, static_cast<int64_t>(body.size()), false);
    Data(body.data(), body.size(), name);
  }
  void File(const std::string& name, const fs::path& src) {
    sandbox::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) ThrowErrno("docker archive: open " + src.string());
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) ThrowErrno("docker archive: stat " + src.string());
    Header(name, st.st_size, false);
    std::unique_ptr<char[]> buf(new char[1 << 17]);
    for (;;) {
      ssize_t n = ::read(in.get(), buf.get(), 1 << 17);
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowErrno("docker archive: read " + src.string());
      }
      if (n == 0) break;
      Data(buf.get(), static_cast<size_t>(n), name);
    }
  }
};

}  // namespace

namespace {

// An OCI layout as one tar (plus docker's manifest.json when given), written
// to a temp file renamed into place, or streamed to stdout for "-".
void WriteLayoutTar(const Store& store, const Descriptor& manifest, const Index& idx,
                    const std::string& docker_manifest_json, const fs::path& tar_file) {
  const Manifest m = ParseManifest(store.ReadBlob(manifest.digest));
  auto blob_name = [](const Digest& d) { return "blobs/" + d.algorithm + "/" + d.hex; };
  const bool to_stdout = tar_file == "-";
  auto tmp = to_stdout ? fs::path("-")
                       : tar_file.parent_path() / ("." + tar_file.filename().string() + ".tmp-" + std::to_string(::getpid()));
  try {
    {
      TarOut out(tmp);
      out.Header("blobs/", 0, true);
      out.Header("blobs/sha256/", 0, true);
      std::vector<Digest> done;
      auto add = [&](const Digest& dg) {
        if (std::find(done.begin(), done.end(), dg) != done.end()) return;
        done.push_back(dg);
        out.File(blob_name(dg), store.BlobPath(dg));
      };
      add(manifest.digest);
      add(m.config.digest);
      for (auto& l : m.layers) add(l.digest);
      out.String("index.json", ToJson(idx));
      if (!docker_manifest_json.empty()) out.String("manifest.json", docker_manifest_json);
      out.String("oci-layout", kOciLayoutFile);
      if (archive_write_close(out.a) != ARCHIVE_OK)
        throw Error("image archive: close " + tmp.string() + ": " + archive_error_string(out.a));
    }
    if (!to_stdout && ::rename(tmp.c_str(), tar_file.c_str()) != 0)
      ThrowErrno("image archive: rename to " + tar_file.string());
  } catch (...) {
    if (!to_stdout) ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

void ExportDockerArchive(const Store& store, const Descriptor& manifest, const fs::path& tar_file,
                         const std::vector<std::string>& repo_tags) {
  Manifest m = ParseManifest(store.ReadBlob(manifest.digest));
  // Docker >= 25 writes the same shape: an OCI layout plus manifest.json,
  // so the tar is both a `docker load` archive and an OCI layout. Layers stay
  // compressed; `docker load` decompresses them and checks the diff_ids.
  auto blob_name = [](const Digest& d) { return "blobs/" + d.algorithm + "/" + d.hex; };
  nlohmann::json entry;
  entry["Config"] = blob_name(m.config.digest);
  entry["RepoTags"] = repo_tags;
  entry["Layers"] = nlohmann::json::array();
  for (auto& l : m.layers) entry["Layers"].push_back(blob_name(l.digest));
  nlohmann::json docker_manifest = nlohmann::json::array({entry});

  Index idx;
  Descriptor d = manifest;
  if (!repo_tags.empty()) d.annotations["io.containerd.image.name"] = repo_tags.front();
  idx.manifests.push_back(d);
  WriteLayoutTar(store, manifest, idx, docker_manifest.dump(), tar_file);
}

void ExportOciArchive(const Store& store, const Descriptor& manifest, const fs::path& tar_file,
                      const std::string& tag, const std::map<std::string, std::string>& index_annotations) {
  Index idx;
  idx.annotations = index_annotations;
  Descriptor d = manifest;
  d.annotations.erase(media::kRefNameAnnotation);
  if (!tag.empty()) d.annotations[media::kRefNameAnnotation] = tag;
  idx.manifests.push_back(d);
  WriteLayoutTar(store, manifest, idx, "", tar_file);
}

}  // namespace kiln::oci
