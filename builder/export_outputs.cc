#include "builder/export_outputs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <optional>
#include <stdexcept>

#include "builder/base_image.h"
#include "builder/error.h"
#include "builder/image_flatten.h"
#include "sandbox/file_io.h"
#include "oci/store/layout.h"
#include "oci/reference.h"
#include "sandbox/unique_fd.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

// Tag part for an OCI layout's ref.name ("app:1.0" -> "1.0").
std::string LayoutTag(const BuildOptions& opts, const OutputSpec& out) {
  const std::string& name = !out.names.empty() ? out.names.front() : (opts.tags.empty() ? "" : opts.tags.front());
  if (name.empty()) return "latest";
  const std::string tag = oci::Reference::Parse(name).tag;
  return tag.empty() ? "latest" : tag;
}

void CopyFileTo(const fs::path& src, const std::string& dest) {
  if (dest != "-") {
    const fs::path tmp = fs::path(dest).parent_path() / ("." + fs::path(dest).filename().string() + ".tmp-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error({"-o dest=" + dest + ": writing", tmp.string(), ec.message(), "check the destination's directory and free space"});
    fs::rename(tmp, dest, ec);
    if (ec) {
      fs::remove(tmp);
      throw Error({"-o dest=" + dest + ": renaming", tmp.string(), ec.message(), "check the destination's directory"});
    }
    return;
  }
  sandbox::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) ThrowErrno("-o dest=-: opening", src.string(), "run kiln fsck: the store may be damaged");
  std::vector<char> buf(1 << 17);
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("-o dest=-: reading", src.string(), "run kiln fsck: the store may be damaged");
    if (n == 0) break;
    sandbox::WriteAll(STDOUT_FILENO, buf.data(), size_t(n), "-o dest=- (stdout)");
  }
}

}  // namespace

bool WritesStdout(const BuildOptions& opts) {
  for (const auto& o : opts.outputs)
    if (o.dest == "-") return true;
  return false;
}

std::vector<std::string> PushTargets(const BuildOptions& opts) {
  std::vector<std::string> out;
  for (const auto& o : opts.outputs) {
    if (o.type != "image" || !o.push) continue;
    if (!o.names.empty()) out.insert(out.end(), o.names.begin(), o.names.end());
    else out.insert(out.end(), opts.tags.begin(), opts.tags.end());
  }
  if (opts.push) out.insert(out.end(), opts.tags.begin(), opts.tags.end());
  return out;
}

void ExportOutputs(const oci::Store& store, const BuildOptions& opts, const oci::Descriptor& manifest,
                   const std::vector<std::string>& tags, Progress& progress) {
  auto note = [&progress](const std::string& s) { progress.Note(s); };
  const std::string where_stdout = "stdout";
  for (const auto& out : opts.outputs) {
    const std::string to = out.dest == "-" ? where_stdout : out.dest;
    if (out.type == "oci" && out.tar) {
      note("exporting OCI archive to " + to);
      oci::ExportOciArchive(store, manifest, out.dest, LayoutTag(opts, out), opts.index_annotations);
    } else if (out.type == "oci") {
      note("exporting OCI layout to " + to);
      oci::ExportOciLayout(store, manifest, out.dest, LayoutTag(opts, out), opts.index_annotations);
    } else if (out.type == "docker") {
      note("exporting docker archive to " + to);
      std::vector<std::string> repo_tags = tags;
      if (!out.names.empty()) {
        repo_tags.clear();
        for (const auto& n : out.names) repo_tags.push_back(NormalizeTag(n));
      }
      oci::ExportDockerArchive(store, manifest, out.dest, repo_tags);
    } else if ((out.type == "tar" || out.type == "local") && oci::media::IsIndexMediaType(manifest.media_type)) {
      // As buildx: one directory per platform (linux_amd64, linux_arm64, ...),
      // under DEST for type=local, at the top of the tar for type=tar.
      std::optional<oci::Store::TempDir> tmp;
      fs::path base = out.dest;
      if (out.type == "tar") {
        tmp.emplace(store.MakeTempDir("export-tar"));
        base = tmp->path() / "root";
        fs::create_directory(base);
      }
      for (const auto& d : oci::ParseIndex(store.ReadBlob(manifest.digest)).manifests) {
        std::string sub = d.platform ? oci::Normalize(*d.platform).str() : d.digest.hex;
        for (auto& c : sub) c = c == '/' ? '_' : c;
        note("exporting the " + (d.platform ? d.platform->str() : d.digest.str()) + " image's files to " + to + "/" + sub);
        const fs::path dir = base / sub;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw Error({"-o type=" + out.type + ",dest=" + out.dest + ": creating", dir.string(), ec.message(), "choose a destination you can write"});
        // The tar keeps the image's owners, as for one platform; a local
        // directory is the caller's to delete.
        FlattenLayers(store, oci::ParseManifest(store.ReadBlob(d.digest)).layers, dir, out.type == "tar", note);
      }
      if (out.type == "tar") {
        oci::LayerOptions lo;
        lo.compression = oci::Compression::kNone;
        lo.source_date_epoch = opts.source_date_epoch;
        // A layer blob of the store like the single-platform tar (collected by `kiln prune`).
        const oci::Layer layer = oci::WriteLayer(store, base, lo);
        CopyFileTo(store.BlobPath(layer.blob.digest), out.dest);
      }
    } else if (out.type == "tar" || out.type == "local") {
      const oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
      if (out.type == "local") {
        note("exporting the image's files to " + to);
        std::error_code ec;
        fs::create_directories(out.dest, ec);
        if (ec) throw Error({"-o type=local: creating", out.dest, ec.message(), "choose a destination you can write"});
        FlattenLayers(store, m.layers, out.dest, false, note);
      } else {
        note("exporting the image's files as a tar to " + to);
        oci::LayerOptions lo;
        lo.compression = oci::Compression::kNone;
        lo.source_date_epoch = opts.source_date_epoch;
        // The tar is a layer blob of the store (collected by `kiln prune`):
        // the layer writer's sorted, reproducible tar, with owners kept.
        const oci::Layer layer = FlattenToLayer(store, m.layers, lo, note);
        CopyFileTo(store.BlobPath(layer.blob.digest), out.dest);
      }
    }
  }
}

}  // namespace kiln::builder
