// OCI layout / docker-archive import and export, including interop with the
// real skopeo and umoci when they are installed.
#include "oci/store/layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/layer/layer.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using ocitest::ScratchDir;

// A small real image in the store: one layer with a file, config, manifest.
Descriptor BuildImage(Store& s, const fs::path& scratch) {
  ocitest::WriteText(scratch / "rootfs" / "hello.txt", "hello from kiln\n");
  ocitest::WriteText(scratch / "rootfs" / "etc" / "os-release", "ID=kiln\n");
  Layer l = WriteLayer(s, scratch / "rootfs", {Compression::kGzip, 0, std::nullopt});
  ImageConfig c;
  c.created = Rfc3339(0);
  c.architecture = Platform::Host().architecture;
  c.variant = Platform::Host().variant;
  c.config.cmd = std::vector<std::string>{"/bin/sh"};
  c.config.env = {"PATH=/usr/bin:/bin"};
  c.diff_ids = {l.diff_id};
  c.history = {{Rfc3339(0), "COPY . /", "", "", false}};
  Manifest m;
  m.config = s.PutBlob(ToJson(c), media::kOciConfig);
  m.layers = {l.blob};
  return s.PutBlob(ToJson(m), media::kOciManifest);
}

int Sh(const std::string& cmd) { return std::system((cmd + " >/tmp/kiln-ocicore-sh.log 2>&1").c_str()); }

TEST(Layout, ExportImportRoundTrip) {
  ScratchDir dir;
  Store a(dir / "a");
  auto m = BuildImage(a, dir.path());
  ExportOciLayout(a, m, dir / "layout", "v1");
  ExportOciLayout(a, m, dir / "layout", "v2");  // merged into the same layout
  Index idx = ParseIndex(ocitest::ReadText(dir / "layout" / "index.json"));
  EXPECT_EQ(idx.manifests.size(), 2u);
  EXPECT_TRUE(fs::exists(dir / "layout" / "oci-layout"));
  Store b(dir / "b");
  auto got = ImportOciLayout(b, dir / "layout", "v2");
  EXPECT_EQ(got.digest, m.digest);
  EXPECT_EQ(got.media_type, media::kOciManifest);
  for (auto& d : a.Reachable(m)) {
    if (a.HasBlob(d)) {
      EXPECT_TRUE(b.HasBlob(d)) << d.str();
    }
  }
  EXPECT_THROW(ImportOciLayout(b, dir / "layout", "nope"), Error);
  EXPECT_THROW(ImportOciLayout(b, dir / "layout", ""), Error);  // ambiguous
}

TEST(Layout, ImportRejectsCorruptBlob) {
  ScratchDir dir;
  Store a(dir / "a");
  auto m = BuildImage(a, dir.path());
  ExportOciLayout(a, m, dir / "layout", "");
  Manifest man = ParseManifest(a.ReadBlob(m.digest));
  auto layer_path = dir / "layout" / "blobs" / "sha256" / man.layers[0].digest.hex;
  fs::permissions(layer_path, fs::perms::owner_write, fs::perm_options::add);
  ocitest::WriteText(layer_path, "garbage");
  Store b(dir / "b");
  EXPECT_THROW(ImportOciLayout(b, dir / "layout", ""), Error);
  EXPECT_FALSE(b.HasBlob(man.layers[0].digest));
}

TEST(Layout, ImportResolvesIndexToHostPlatform) {
  ScratchDir dir;
  Store a(dir / "a");
  auto m = BuildImage(a, dir.path());
  Index multi;
  Descriptor other = m;
  other.digest = Sha256Of("some other platform's manifest");  // absent: must not be touched
  other.platform = Platform{"linux", "s390x-nope", ""};
  Descriptor host = m;
  host.platform = Platform::Host();
  multi.manifests = {other, host};
  auto idx_desc = a.PutBlob(ToJson(multi), media::kOciIndex);
  ExportOciLayout(a, idx_desc, dir / "layout", "multi");
  Store b(dir / "b");
  auto got = ImportOciLayout(b, dir / "layout", "multi");
  EXPECT_EQ(got.digest, m.digest);
}

TEST(Layout, DockerArchiveShape) {
  ScratchDir dir;
  Store s(dir / "s");
  auto m = BuildImage(s, dir.path());
  ExportDockerArchive(s, m, dir / "img.tar", {"kiln/test:1"});
  std::map<std::string, std::string> files;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_filename(a, (dir / "img.tar").c_str(), 10240), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string body;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
    files[archive_entry_pathname(e)] = body;
  }
  archive_read_free(a);
  ASSERT_TRUE(files.count("manifest.json"));
  auto j = nlohmann::json::parse(files["manifest.json"]);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["RepoTags"][0], "kiln/test:1");
  std::string cfg = j[0]["Config"];
  ASSERT_TRUE(files.count(cfg));
  ImageConfig c = ParseImageConfig(files[cfg]);
  ASSERT_EQ(j[0]["Layers"].size(), 1u);
  std::string layer = j[0]["Layers"][0];
  ASSERT_TRUE(files.count(layer));
  // docker load decompresses each layer and checks it against rootfs.diff_ids.
  ocitest::WriteText(dir / "layer.bin", files[layer]);
  archive* r = archive_read_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_raw(r);
  archive_read_open_filename(r, (dir / "layer.bin").c_str(), 10240);
  std::string tar;
  if (archive_read_next_header(r, &e) == ARCHIVE_OK) {
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(r, buf, sizeof buf)) > 0) tar.append(buf, static_cast<size_t>(n));
  }
  archive_read_free(r);
  EXPECT_EQ(Sha256Of(tar), c.diff_ids[0]);
  EXPECT_TRUE(files.count("oci-layout"));
  EXPECT_TRUE(files.count("index.json"));
}

TEST(Layout, DockerLoad) {
  if (!ocitest::HaveTool("docker") || Sh("docker info") != 0) GTEST_SKIP() << "no usable docker daemon";
  ScratchDir dir;
  Store s(dir / "s");
  auto m = BuildImage(s, dir.path());
  ExportDockerArchive(s, m, dir / "img.tar", {"kiln-ocicore-test:1"});
  EXPECT_EQ(Sh("docker load -i " + (dir / "img.tar").string()), 0);
  Sh("docker rmi kiln-ocicore-test:1");
}

TEST(LayoutInterop, SkopeoInspectAndCopy) {
  if (!ocitest::HaveTool("skopeo")) GTEST_SKIP() << "skopeo not installed";
  ScratchDir dir;
  Store s(dir / "s");
  auto m = BuildImage(s, dir.path());
  ExportOciLayout(s, m, dir / "layout", "v1");
  auto out = dir / "inspect.json";
  ASSERT_EQ(std::system(("skopeo inspect oci:" + (dir / "layout").string() + ":v1 > " + out.string() + " 2>&1").c_str()), 0)
      << ocitest::ReadText(out);
  auto j = nlohmann::json::parse(ocitest::ReadText(out));
  EXPECT_EQ(j["Digest"], m.digest.str());
  EXPECT_EQ(j["Layers"].size(), 1u);
  // skopeo copy of a kiln layout, then kiln imports what skopeo wrote.
  ASSERT_EQ(Sh("skopeo copy oci:" + (dir / "layout").string() + ":v1 oci:" + (dir / "copy").string() + ":copied"), 0)
      << ocitest::ReadText("/tmp/kiln-ocicore-sh.log");
  Store b(dir / "b");
  auto got = ImportOciLayout(b, dir / "copy", "copied");
  Manifest gm = ParseManifest(b.ReadBlob(got.digest, true));
  ASSERT_EQ(gm.layers.size(), 1u);
  EXPECT_TRUE(b.HasBlob(gm.layers[0].digest));
  EXPECT_EQ(ParseImageConfig(b.ReadBlob(gm.config.digest, true)).diff_ids,
            ParseImageConfig(s.ReadBlob(ParseManifest(s.ReadBlob(m.digest)).config.digest)).diff_ids);
  // The store itself is an OCI layout skopeo can read.
  s.SetTag("tagged", m);
  EXPECT_EQ(Sh("skopeo inspect oci:" + (dir / "s").string() + ":tagged"), 0) << ocitest::ReadText("/tmp/kiln-ocicore-sh.log");
}

TEST(LayoutInterop, UmociUnpackAndImportUmociLayout) {
  if (!ocitest::HaveTool("umoci")) GTEST_SKIP() << "umoci not installed";
  ScratchDir dir;
  Store s(dir / "s");
  auto m = BuildImage(s, dir.path());
  ExportOciLayout(s, m, dir / "layout", "v1");
  ASSERT_EQ(Sh("umoci unpack --rootless --image " + (dir / "layout").string() + ":v1 " + (dir / "bundle").string()), 0)
      << ocitest::ReadText("/tmp/kiln-ocicore-sh.log");
  EXPECT_EQ(ocitest::ReadText(dir / "bundle" / "rootfs" / "hello.txt"), "hello from kiln\n");
  EXPECT_EQ(ocitest::ReadText(dir / "bundle" / "rootfs" / "etc" / "os-release"), "ID=kiln\n");
  // A layout written by umoci itself.
  ASSERT_EQ(Sh("umoci init --layout " + (dir / "u").string() + " && umoci new --image " + (dir / "u").string() + ":base"),
            0)
      << ocitest::ReadText("/tmp/kiln-ocicore-sh.log");
  ASSERT_EQ(Sh("umoci unpack --rootless --image " + (dir / "u").string() + ":base " + (dir / "ub").string() +
               " && echo data > " + (dir / "ub" / "rootfs" / "added").string() + " && umoci repack --image " +
               (dir / "u").string() + ":base " + (dir / "ub").string()),
            0)
      << ocitest::ReadText("/tmp/kiln-ocicore-sh.log");
  Store b(dir / "b");
  auto got = ImportOciLayout(b, dir / "u", "base");
  Manifest gm = ParseManifest(b.ReadBlob(got.digest, true));
  ASSERT_GE(gm.layers.size(), 1u);
  bool found = false;
  ForEachEntry(b.BlobPath(gm.layers.back().digest), [&](const TarEntry& e, const ReadFn&) {
    if (e.path == "added") found = true;
  });
  EXPECT_TRUE(found);
  // And kiln extracts it.
  ExtractLayer(b.BlobPath(gm.layers.back().digest), dir / "x", {});
  EXPECT_EQ(ocitest::ReadText(dir / "x" / "added"), "data\n");
}

// A two-platform index of real images (amd64 and arm64 configs over the same files).
Descriptor BuildIndex(Store& s, const fs::path& scratch, Descriptor* amd_out = nullptr, Descriptor* arm_out = nullptr) {
  const Descriptor host = BuildImage(s, scratch);
  Manifest m = ParseManifest(s.ReadBlob(host.digest));
  ImageConfig c = ParseImageConfig(s.ReadBlob(m.config.digest));
  std::vector<Descriptor> per;
  for (const char* arch : {"amd64", "arm64"}) {
    c.architecture = arch;
    c.variant = "";
    m.config = s.PutBlob(ToJson(c), media::kOciConfig);
    per.push_back(s.PutBlob(ToJson(m), media::kOciManifest));
  }
  if (amd_out) *amd_out = per[0];
  if (arm_out) *arm_out = per[1];
  return PutIndex(s, per, IndexFormat::kOci);
}

std::string ShOut(const std::string& cmd) {
  const int rc = std::system((cmd + " >/tmp/kiln-ocicore-out.txt 2>&1").c_str());
  std::string out = ocitest::ReadText("/tmp/kiln-ocicore-out.txt");
  if (rc != 0) throw std::runtime_error(cmd + " failed: " + out);
  return out;
}

TEST(LayoutIndex, ExportWritesIndexAndEveryManifest) {
  // Real tools or a failure: this is the interop the export exists for.
  ASSERT_TRUE(ocitest::HaveTool("skopeo")) << "skopeo is not installed (scripts/setup.sh --test)";
  ASSERT_TRUE(ocitest::HaveTool("umoci")) << "umoci is not installed (scripts/setup.sh --test)";
  ScratchDir dir;
  Store s(dir / "s");
  Descriptor amd, arm;
  const Descriptor idx = BuildIndex(s, dir.path(), &amd, &arm);
  const fs::path layout = dir / "layout";
  ExportOciLayout(s, idx, layout, "multi");
  // index.json names the index, annotated with the tag.
  const Index top = ParseIndex(ocitest::ReadText(layout / "index.json"));
  ASSERT_EQ(top.manifests.size(), 1u);
  EXPECT_EQ(top.manifests[0].digest, idx.digest);
  EXPECT_EQ(top.manifests[0].media_type, media::kOciIndex);
  EXPECT_EQ(top.manifests[0].annotations.at(media::kRefNameAnnotation), "multi");
  for (const Digest& d : s.Reachable(idx)) {
    if (s.HasBlob(d)) {
      EXPECT_TRUE(fs::exists(layout / "blobs" / "sha256" / d.hex)) << d.str();
    }
  }
  // skopeo reads the index raw, and resolves it to a platform.
  EXPECT_EQ(ShOut("skopeo inspect --raw oci:" + layout.string() + ":multi"), s.ReadBlob(idx.digest));
  const auto arm_inspect =
      nlohmann::json::parse(ShOut("skopeo --override-arch arm64 inspect oci:" + layout.string() + ":multi"));
  EXPECT_EQ(arm_inspect["Architecture"], "arm64");  // its "Digest" is the index's
  // umoci lists the tag.
  EXPECT_NE(ShOut("umoci ls --layout " + layout.string()).find("multi"), std::string::npos);
  // skopeo copies every platform out of it.
  ShOut("skopeo copy --all oci:" + layout.string() + ":multi oci:" + (dir / "copy").string() + ":c");
  EXPECT_TRUE(fs::exists(dir / "copy" / "blobs" / "sha256" / arm.digest.hex));
  // Reading it back chooses by platform.
  Store b(dir / "b");
  EXPECT_EQ(ImportOciLayout(b, layout, "multi", Platform::Parse("linux/arm64")).digest, arm.digest);
  EXPECT_EQ(ImportOciLayout(b, layout, "multi", Platform::Parse("linux/amd64")).digest, amd.digest);
  try {
    ImportOciLayout(b, layout, "multi", Platform::Parse("linux/s390x"));
    FAIL() << "no s390x manifest";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("available: linux/amd64, linux/arm64"), std::string::npos) << e.what();
  }
}

TEST(LayoutIndex, ArchiveHoldsEveryManifest) {
  ASSERT_TRUE(ocitest::HaveTool("skopeo")) << "skopeo is not installed (scripts/setup.sh --test)";
  ScratchDir dir;
  Store s(dir / "s");
  Descriptor amd, arm;
  const Descriptor idx = BuildIndex(s, dir.path(), &amd, &arm);
  ExportOciArchive(s, idx, dir / "multi.tar", "multi");
  EXPECT_EQ(ShOut("skopeo inspect --raw oci-archive:" + (dir / "multi.tar").string() + ":multi"), s.ReadBlob(idx.digest));
  const auto j = nlohmann::json::parse(
      ShOut("skopeo --override-arch arm64 inspect oci-archive:" + (dir / "multi.tar").string() + ":multi"));
  EXPECT_EQ(j["Architecture"], "arm64");
}

TEST(LayoutIndex, DockerArchiveRefusesAnIndex) {
  ScratchDir dir;
  Store s(dir / "s");
  const Descriptor idx = BuildIndex(s, dir.path());
  try {
    ExportDockerArchive(s, idx, dir / "img.tar", {"app:1"});
    FAIL() << "a docker archive of an index";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("linux/amd64, linux/arm64"), std::string::npos) << what;
    EXPECT_NE(what.find("-o type=oci"), std::string::npos) << what;
    EXPECT_NE(what.find("--platform"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(dir / "img.tar"));
}

}  // namespace
}  // namespace kiln::oci
