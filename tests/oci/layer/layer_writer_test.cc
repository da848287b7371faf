#include <archive.h>
#include <fcntl.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/layer/gzip_members.h"
#include "oci/layer/layer.h"
#include "oci/layer/layer_internal.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using ocitest::ScratchDir;
using ocitest::WriteText;

struct Seen {
  std::string path;
  unsigned mode;
  int64_t uid, gid, mtime;
  std::string link;
  bool hardlink;
  bool has_uname;
  std::vector<std::string> xattrs;
};

// Reads a layer blob with libarchive directly (independent of ForEachEntry).
std::vector<Seen> List(const fs::path& blob) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, blob.c_str(), 10240), ARCHIVE_OK);
  std::vector<Seen> out;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Seen s{archive_entry_pathname(e), archive_entry_mode(e), archive_entry_uid(e), archive_entry_gid(e),
           archive_entry_mtime(e), "", false, (archive_entry_uname(e) && *archive_entry_uname(e)) || (archive_entry_gname(e) && *archive_entry_gname(e)), {}};
    if (archive_entry_hardlink(e)) {
      s.link = archive_entry_hardlink(e);
      s.hardlink = true;
    } else if (archive_entry_symlink(e)) {
      s.link = archive_entry_symlink(e);
    }
    EXPECT_FALSE(archive_entry_atime_is_set(e)) << s.path;
    EXPECT_FALSE(archive_entry_ctime_is_set(e)) << s.path;
    const char* n;
    const void* v;
    size_t sz;
    archive_entry_xattr_reset(e);
    // libarchive writes each xattr twice (SCHILY.xattr and LIBARCHIVE.xattr)
    // and its reader reports both: keep one.
    while (archive_entry_xattr_next(e, &n, &v, &sz) == ARCHIVE_OK)
      if (std::find(s.xattrs.begin(), s.xattrs.end(), n) == s.xattrs.end()) s.xattrs.push_back(n);
    out.push_back(s);
  }
  archive_read_free(a);
  return out;
}

std::string Decompressed(const fs::path& blob) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_read_open_filename(a, blob.c_str(), 10240);
  archive_entry* e;
  std::string out;
  if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  archive_read_free(a);
  return out;
}

bool UserXattrs(const fs::path& p) {
  return ::setxattr(p.c_str(), "user.kiln.probe", "1", 1, 0) == 0 && ::removexattr(p.c_str(), "user.kiln.probe") == 0;
}

void SetMtimes(const fs::path& root, int64_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  for (auto& e : fs::recursive_directory_iterator(root)) utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

// A tree that looks like an overlay upper dir.
void MakeTree(const fs::path& root) {
  fs::create_directories(root / "etc");
  WriteText(root / "etc" / "hosts", "127.0.0.1 localhost\n");
  WriteText(root / "bin" / "tool", std::string(100000, 'b'));
  ::chmod((root / "bin" / "tool").c_str(), 04755);
  fs::create_hard_link(root / "bin" / "tool", root / "bin" / "tool-alias");
  fs::create_symlink("../etc/hosts", root / "bin" / "hosts-link");
  fs::create_directories(root / "a-b");
  fs::create_directories(root / "a" / "b");
  WriteText(root / "a" / "b" / "c", "c");
  std::string longname(150, 'L');
  WriteText(root / "a" / longname, "long");
  WriteText(root / "owned", "o");
  ::lchown((root / "owned").c_str(), 1234, 5678);
}

TEST(LayerWriter, EntriesSortedNumericIdsLinksKept) {
  ScratchDir dir;
  Store s(dir / "store");
  MakeTree(dir / "tree");
  Layer l = WriteLayer(s, dir / "tree", {Compression::kNone, std::nullopt, std::nullopt});
  EXPECT_EQ(l.blob.media_type, media::kOciLayerTar);
  EXPECT_EQ(l.diff_id, l.blob.digest);
  EXPECT_EQ(Sha256OfFile(s.BlobPath(l.blob.digest)), l.diff_id);
  auto seen = List(s.BlobPath(l.blob.digest));
  std::vector<std::string> names;
  for (auto& e : seen) names.push_back(e.path);
  std::vector<std::string> sorted = names;
  // libarchive appends "/" to dirs; compare without it.
  for (auto& n : sorted)
    if (n.ends_with("/")) n.pop_back();
  auto plain = sorted;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(plain, sorted);
  EXPECT_LT(std::find(plain.begin(), plain.end(), "a") - plain.begin(),
            std::find(plain.begin(), plain.end(), "a/b") - plain.begin());
  EXPECT_NE(std::find(plain.begin(), plain.end(), "a/" + std::string(150, 'L')), plain.end());
  for (auto& e : seen) {
    EXPECT_FALSE(e.has_uname) << e.path;
    if (e.path == "owned") {
      EXPECT_EQ(e.uid, 1234);
      EXPECT_EQ(e.gid, 5678);
    }
    if (e.path == "bin/tool") {
      EXPECT_EQ(e.mode & 07777, 04755u);
    }
    if (e.path == "bin/tool-alias") {
      EXPECT_TRUE(e.hardlink);
      EXPECT_EQ(e.link, "bin/tool");
    }
    if (e.path == "bin/hosts-link") {
      EXPECT_EQ(e.link, "../etc/hosts");
    }
  }
}

TEST(LayerWriter, WhiteoutsOpaqueAndXattrs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mknod whiteouts and set trusted.* xattrs";
  ScratchDir dir;
  Store s(dir / "store");
  auto t = dir / "tree";
  fs::create_directories(t / "opaque-trusted");
  fs::create_directories(t / "opaque-user");
  fs::create_directories(t / "d");
  ASSERT_EQ(::mknod((t / "d" / "gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  ASSERT_EQ(::setxattr((t / "opaque-trusted").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  bool user = UserXattrs(t);
  if (user) {
    ASSERT_EQ(::setxattr((t / "opaque-user").c_str(), "user.overlay.opaque", "y", 1, 0), 0);
    WriteText(t / "x", "x");
    ASSERT_EQ(::setxattr((t / "x").c_str(), "user.note", "hi", 2, 0), 0);
  }
  WriteText(t / "cap", "binary");
  // A v2 file capability (cap_net_bind_service), as setcap writes it.
  const unsigned char cap[20] = {0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(::setxattr((t / "cap").c_str(), "security.capability", cap, sizeof cap, 0), 0);
  ASSERT_EQ(::setxattr((t / "d").c_str(), "trusted.overlay.redirect", "/x", 2, 0), 0);

  Layer l = WriteLayer(s, t, {Compression::kGzip, std::nullopt, std::nullopt});
  auto seen = List(s.BlobPath(l.blob.digest));
  std::map<std::string, Seen> by;
  for (auto& e : seen) by[e.path] = e;
  EXPECT_TRUE(by.count("d/.wh.gone"));
  EXPECT_FALSE(by.count("d/gone"));
  EXPECT_TRUE(S_ISREG(by["d/.wh.gone"].mode));
  EXPECT_TRUE(by.count("opaque-trusted/.wh..wh..opq"));
  if (user) {
    EXPECT_TRUE(by.count("opaque-user/.wh..wh..opq"));
    EXPECT_EQ(by["x"].xattrs, std::vector<std::string>{"user.note"});
  }
  EXPECT_EQ(by["cap"].xattrs, std::vector<std::string>{"security.capability"});
  for (auto& e : seen)
    for (auto& x : e.xattrs) EXPECT_EQ(x.find(".overlay."), std::string::npos) << e.path << " " << x;
}

TEST(LayerWriter, ReproducibleAcrossPlacesAndTimes) {
  ScratchDir dir;
  Store s(dir / "store");
  MakeTree(dir / "one");
  SetMtimes(dir / "one", 1600000000);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  MakeTree(dir / "two");
  SetMtimes(dir / "two", 1600000000);
  for (auto c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    Layer a = WriteLayer(s, dir / "one", {c, std::nullopt, std::nullopt});
    Layer b = WriteLayer(s, dir / "two", {c, std::nullopt, std::nullopt});
    EXPECT_EQ(a.blob.digest, b.blob.digest);
    EXPECT_EQ(a.diff_id, b.diff_id);
  }
  // With SOURCE_DATE_EPOCH, trees with different (newer) mtimes agree too.
  MakeTree(dir / "three");
  Layer a = WriteLayer(s, dir / "one", {Compression::kGzip, 1500000000, std::nullopt});
  Layer b = WriteLayer(s, dir / "three", {Compression::kGzip, 1500000000, std::nullopt});
  EXPECT_EQ(a.blob.digest, b.blob.digest);
  for (auto& e : List(s.BlobPath(a.blob.digest))) EXPECT_LE(e.mtime, 1500000000) << e.path;
  // Older mtimes are kept, not raised.
  Layer c = WriteLayer(s, dir / "one", {Compression::kNone, 1700000000, std::nullopt});
  for (auto& e : List(s.BlobPath(c.blob.digest))) EXPECT_EQ(e.mtime, 1600000000) << e.path;
}

TEST(LayerWriter, GzipHeaderFixedAndDiffIdMatches) {
  ScratchDir dir;
  Store s(dir / "store");
  MakeTree(dir / "tree");
  Layer l = WriteLayer(s, dir / "tree", {});
  EXPECT_EQ(l.blob.media_type, media::kOciLayerGzip);
  std::string raw = ocitest::ReadText(s.BlobPath(l.blob.digest));
  ASSERT_GT(raw.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);
  EXPECT_EQ(raw[3] & 0x08, 0) << "no file name";
  EXPECT_EQ(raw.substr(4, 4), std::string(4, '\0')) << "no mtime";
  EXPECT_EQ(Sha256Of(raw), l.blob.digest);
  EXPECT_EQ(static_cast<int64_t>(raw.size()), l.blob.size);
  EXPECT_EQ(Sha256Of(Decompressed(s.BlobPath(l.blob.digest))), l.diff_id);
  // No zero padding after the gzip member: `gzip -t` is strict about it.
  if (ocitest::HaveTool("gzip")) {
    EXPECT_EQ(std::system(("gzip -t " + s.BlobPath(l.blob.digest).string() + " 2>/dev/null").c_str()), 0);
  }
}

// gzip(1) and Python (whose multi-member reading is Go's) read a gzip
// layer blob whole: the tar it holds is `l`'s diff_id, and `member` in it
// has the bytes of `tree`/`member`.
void ExpectOthersRead(const fs::path& blob, const Layer& l, const fs::path& tree, const std::string& member) {
  if (ocitest::HaveTool("gzip")) {
    EXPECT_EQ(std::system(("gzip -t " + blob.string()).c_str()), 0);
    EXPECT_EQ(std::system(("gzip -dc " + blob.string() + " | sha256sum | grep -q " + l.diff_id.hex).c_str()), 0)
        << "gzip -d yields the whole tar";
  }
  if (ocitest::HaveTool("python3")) {
    EXPECT_EQ(std::system(("python3 -c 'import tarfile,sys; t=tarfile.open(sys.argv[1]); "
                           "assert t.extractfile(sys.argv[3]).read()==open(sys.argv[2],\"rb\").read()' " +
                           blob.string() + " " + (tree / member).string() + " " + member)
                              .c_str()),
              0);
  }
}

// Over 1 MiB of tar, gzip layers are several members compressed in parallel:
// still one valid gzip stream for gzip(1), Python (as Go's reader) and
// libarchive, still the right diff_id, and the same bytes every time.
TEST(LayerWriter, LargeGzipLayerIsConcatenatedMembers) {
  ScratchDir dir;
  Store s(dir / "store");
  fs::create_directories(dir / "tree/big");
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < 11 << 20; ++i) {  // 11 MiB, half of it incompressible
    x = x * 1103515245 + 12345;
    data.push_back(static_cast<char>(i % 2 ? (x >> 16) : 'k'));
  }
  ocitest::WriteText(dir / "tree/big/data", data);
  ocitest::WriteText(dir / "tree/small", "small");
  Layer l = WriteLayer(s, dir / "tree", {});
  const fs::path blob = s.BlobPath(l.blob.digest);
  const std::string raw = ocitest::ReadText(blob);
  size_t members = 0;
  for (size_t p = raw.find("\x1f\x8b\x08"); p != std::string::npos; p = raw.find("\x1f\x8b\x08", p + 1)) ++members;
  EXPECT_GE(members, 11u) << "11 MiB of tar in 1 MiB members";
  EXPECT_EQ(Sha256Of(Decompressed(blob)), l.diff_id) << "libarchive reads every member";
  ExpectOthersRead(blob, l, dir / "tree", "big/data");
  Store s2(dir / "store2");
  EXPECT_EQ(WriteLayer(s2, dir / "tree", {}).blob.digest, l.blob.digest) << "reproducible";
}

// Members of a gzip blob as kiln writes them (fixed 10-byte header), and
// how many of them begin with a stored deflate block (BTYPE 00).
struct MemberCount {
  size_t members = 0, stored = 0;
};
MemberCount CountMembers(const std::string& blob) {
  static const std::string header("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);
  MemberCount c;
  for (size_t p = blob.find(header); p != std::string::npos; p = blob.find(header, p + 1)) {
    ++c.members;
    if (p + 10 < blob.size() && (static_cast<unsigned char>(blob[p + 10]) & 0x06) == 0) ++c.stored;
  }
  return c;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    out.push_back(static_cast<char>(seed >> 24));
  }
  return out;
}

TEST(LayerWriter, LooksIncompressible) {
  EXPECT_TRUE(LooksIncompressible(RandomBytes(16384, 1)));
  EXPECT_TRUE(LooksIncompressible(RandomBytes(2048, 2))) << "the shortest run stored";
  EXPECT_FALSE(LooksIncompressible(RandomBytes(1000, 3))) << "too short to tell";
  std::string text;
  while (text.size() < 16384) text += "kiln layer overlay digest namespace sandbox build ";
  EXPECT_FALSE(LooksIncompressible(text));
  EXPECT_FALSE(LooksIncompressible(RandomBytes(8192, 4) + std::string(8192, '\0'))) << "half zeros";
  EXPECT_FALSE(LooksIncompressible(RandomBytes(16384, 5) + text.substr(0, 4096))) << "a fifth text";
}

// File data that deflate can't shrink is stored, in members of its own, so
// zlib doesn't spend level 6's time on it; text around it is still
// compressed, and the blob is one valid gzip stream with the right diff_id.
TEST(LayerWriter, IncompressibleFileDataIsStored) {
  ScratchDir dir;
  Store s(dir / "store");
  std::string text;
  while (text.size() < 16000) text += "kiln layer overlay digest namespace sandbox build ";
  size_t random_bytes = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string data = i % 2 ? RandomBytes(16000, 100 + i) : text;
    random_bytes += i % 2 ? data.size() : 0;
    WriteText(dir / "tree" / ("f" + std::to_string(100 + i)), data);
  }
  // One file longer than a member: its data runs on across members.
  const std::string big = RandomBytes(3 << 20, 99);
  random_bytes += big.size();
  WriteText(dir / "tree" / "zbig", big);
  Layer l = WriteLayer(s, dir / "tree", {});
  const fs::path blob = s.BlobPath(l.blob.digest);
  const std::string raw = ocitest::ReadText(blob);
  const MemberCount c = CountMembers(raw);
  EXPECT_GE(c.stored, 20u + 3u) << "each random file stored, the big one in every member it spans";
  EXPECT_GE(c.members, 40u) << "text between them compressed";
  EXPECT_LT(raw.size(), random_bytes + 20 * 16000 / 4) << "the text shrank";
  EXPECT_EQ(Sha256Of(Decompressed(blob)), l.diff_id);
  ExpectOthersRead(blob, l, dir / "tree", "f101");
  ExpectOthersRead(blob, l, dir / "tree", "zbig");
  Store s2(dir / "store2");
  EXPECT_EQ(WriteLayer(s2, dir / "tree", {}).blob.digest, l.blob.digest) << "reproducible";

  // Text alone: members cut only by size, all compressed.
  ScratchDir dir2;
  for (int i = 0; i < 40; ++i) WriteText(dir2 / "tree" / ("f" + std::to_string(i)), text);
  Store s3(dir2 / "store");
  const MemberCount t = CountMembers(ocitest::ReadText(s3.BlobPath(WriteLayer(s3, dir2 / "tree", {}).blob.digest)));
  EXPECT_LE(t.members, 3u) << "640 KB of tar";
  EXPECT_EQ(t.stored, 0u);
}

TEST(LayerWriter, Zstd) {
  ScratchDir dir;
  Store s(dir / "store");
  MakeTree(dir / "tree");
  Layer l = WriteLayer(s, dir / "tree", {Compression::kZstd, std::nullopt, std::nullopt});
  EXPECT_EQ(l.blob.media_type, media::kOciLayerZstd);
  std::string raw = ocitest::ReadText(s.BlobPath(l.blob.digest));
  EXPECT_EQ(raw.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
  EXPECT_EQ(Sha256Of(Decompressed(s.BlobPath(l.blob.digest))), l.diff_id);
  int n = 0;
  ForEachEntry(s.BlobPath(l.blob.digest), [&](const TarEntry& e, const ReadFn& read) {
    ++n;
    if (e.path == "etc/hosts") {
      char buf[64];
      long got = read(buf, sizeof buf);
      EXPECT_EQ(std::string(buf, static_cast<size_t>(got)), "127.0.0.1 localhost\n");
    }
    if (e.path == "bin/tool-alias") {
      EXPECT_TRUE(e.hardlink);
      EXPECT_EQ(e.link_target, "bin/tool");
    }
  });
  EXPECT_GT(n, 8);
}

TEST(LayerWriter, MissingDirThrows) {
  ScratchDir dir;
  Store s(dir / "store");
  EXPECT_THROW(WriteLayer(s, dir / "nope", {}), Error);
  EXPECT_TRUE(fs::is_empty(dir / "store" / "tmp"));
}

// Throughput against `tar -c | gzip -6`. Opt-in (KILN_BENCH=1): it writes
// ~200 MB and takes a while on a shared machine.
TEST(LayerWriter, BenchVsTarGzip) {
  if (!getenv("KILN_BENCH")) GTEST_SKIP() << "set KILN_BENCH=1 to run the benchmark";
  ScratchDir dir;
  Store s(dir / "store");
  auto t = dir / "tree";
  // Semi-compressible content, like binaries and text in real layers.
  std::string chunk;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < (1 << 20); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    chunk.push_back(static_cast<char>("abcdefghij klmnopqrstuvwxyz\n0123"[x % 32]));
  }
  for (int d = 0; d < 20; ++d)
    for (int f = 0; f < 10; ++f) WriteText(t / ("d" + std::to_string(d)) / ("f" + std::to_string(f)), chunk);
  auto t0 = std::chrono::steady_clock::now();
  int rc = std::system(("tar -C " + t.string() + " -cf - . | gzip -6 > " + (dir / "ref.tgz").string()).c_str());
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(rc, 0);
  Layer l = WriteLayer(s, t, {});
  auto t2 = std::chrono::steady_clock::now();
  double ref = std::chrono::duration<double>(t1 - t0).count();
  double ours = std::chrono::duration<double>(t2 - t1).count();
  std::printf("tar|gzip -6: %.2fs (%lld bytes)  WriteLayer: %.2fs (%lld bytes)  ratio(throughput) %.2f\n", ref,
              static_cast<long long>(fs::file_size(dir / "ref.tgz")), ours, static_cast<long long>(l.blob.size),
              ref / ours);
}

}  // namespace
}  // namespace kiln::oci

namespace kiln::oci {
namespace {

// A one-file change leaves every other gzip member as it was: with the
// earlier blob as a hint, those members are copied (the map says so) and
// the bytes equal a fresh write of the changed tree.
TEST(LayerWriter, GzipMembersReusedAfterOneFileChange) {
  ScratchDir dir;
  Store s(dir / "store");
  uint32_t x = 7;
  for (int i = 0; i < 400; ++i) {
    std::string data;
    for (int j = 0; j < 15000; ++j) {
      x = x * 1103515245 + 12345;
      data.push_back(static_cast<char>(j % 2 ? (x >> 16) : 'a' + i % 7));
    }
    ocitest::WriteText(dir / "tree" / ("d" + std::to_string(i % 10)) / ("f" + std::to_string(i)), data);
  }
  Layer first = WriteLayer(s, dir / "tree", {});
  auto map1 = ReadGzipMembers(s, first.blob.digest);
  ASSERT_TRUE(map1.has_value());
  ASSERT_GT(map1->size(), 4u);
  ocitest::WriteText(dir / "tree/d3/f3", "changed");
  LayerOptions reuse;
  reuse.reuse_gzip_members_of = first.blob.digest;
  Layer second = WriteLayer(s, dir / "tree", reuse);
  auto map2 = ReadGzipMembers(s, second.blob.digest);
  ASSERT_TRUE(map2.has_value());
  std::set<std::string> before;
  for (auto& m : *map1) before.insert(m.content.hex);
  size_t fresh = 0;
  for (auto& m : *map2) fresh += !before.count(m.content.hex);
  EXPECT_LE(fresh, 2u) << "only the changed file's member(s) differ";
  Store s2(dir / "store2");
  EXPECT_EQ(WriteLayer(s2, dir / "tree", {}).blob.digest, second.blob.digest) << "same bytes as without the hint";
  EXPECT_EQ(Sha256Of(Decompressed(s.BlobPath(second.blob.digest))), second.diff_id);
  // A garbled map is ignored, not trusted.
  sandbox::WriteFileAtomic(GzipMembersPath(s, second.blob.digest), "kiln-gzip-members 1\nnonsense\n");
  EXPECT_FALSE(ReadGzipMembers(s, second.blob.digest).has_value());
}

}  // namespace
}  // namespace kiln::oci
