// The user.rootlesscontainers owner record: its encoding (umoci's bytes),
// the layer writer turning it into tar header ids, extraction recording
// unmapped ids instead of failing.
#include "sandbox/owner_record.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/layer/layer.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using namespace ocitest;

TEST(OwnerRecord, EncodesAsProtobufResource) {
  // protoc --encode=Resource: uid 1000 -> 08 e8 07, gid 42 -> 10 2a.
  EXPECT_EQ(sandbox::EncodeOwner({1000, 42}), std::string("\x08\xe8\x07\x10\x2a"));
  EXPECT_EQ(sandbox::EncodeOwner({0, 0}), "");  // proto3 leaves zero fields out
  EXPECT_EQ(sandbox::EncodeOwner({0, 5}), std::string("\x10\x05"));
  EXPECT_EQ(sandbox::EncodeOwner({0xFFFFFFFF, 0}), std::string("\x08\xff\xff\xff\xff\x0f"));
}

TEST(OwnerRecord, DecodesWhatItEncodesAndOthersWrite) {
  for (sandbox::Owner o : {sandbox::Owner{0, 0}, sandbox::Owner{1, 0}, sandbox::Owner{0, 1}, sandbox::Owner{1000, 1000}, sandbox::Owner{65534, 42},
                  sandbox::Owner{0xFFFFFFFF, 0xFFFFFFFE}}) {
    auto d = sandbox::DecodeOwner(sandbox::EncodeOwner(o));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, o);
  }
  // Fields in either order; unknown fields (varint, length-delimited, fixed) skipped.
  EXPECT_EQ(sandbox::DecodeOwner(std::string("\x10\x2a\x08\xe8\x07")), (sandbox::Owner{1000, 42}));
  EXPECT_EQ(sandbox::DecodeOwner(std::string("\x18\x07\x22\x02xy\x08\x05\x2d\x01\x02\x03\x04", 13)), (sandbox::Owner{5, 0}));
}

TEST(OwnerRecord, RejectsMalformed) {
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x08")));                    // value missing
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x08\x80")));                // varint cut short
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x08\x80\x80\x80\x80\x10")));  // beyond 32 bits
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x0a\x01x")));               // uid as bytes
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x22\x05xy")));              // length past the end
  EXPECT_FALSE(sandbox::DecodeOwner(std::string("\x0f")));                    // wire type 7
}

std::map<std::string, std::pair<int64_t, int64_t>> Owners(const fs::path& blob, std::set<std::string>* xattrs) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, blob.c_str(), 10240), ARCHIVE_OK);
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (name.size() > 1 && name.back() == '/') name.pop_back();  // directories
    out[name] = {archive_entry_uid(e), archive_entry_gid(e)};
    const char* n;
    const void* v;
    size_t sz;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &n, &v, &sz) == ARCHIVE_OK) xattrs->insert(n);
  }
  archive_read_free(a);
  return out;
}

void Record(const fs::path& p, sandbox::Owner o) {
  const std::string v = sandbox::EncodeOwner(o);
  ASSERT_EQ(::lsetxattr(p.c_str(), sandbox::kOwnerXattr, v.data(), v.size(), 0), 0) << p << ": " << std::strerror(errno);
}

TEST(OwnerRecord, LayerWriterPutsTheRecordInTheHeader) {
  ScratchDir dir;
  Store s(dir / "store");
  const fs::path t = dir / "tree";
  WriteText(t / "etc" / "shadow", "x");
  WriteText(t / "home" / "u" / "f", "y");
  WriteText(t / "plain", "z");
  Record(t / "etc" / "shadow", {0, 42});
  Record(t / "home" / "u", {1000, 1000});
  Record(t / "home" / "u" / "f", {1000, 0xFFFFFFFF});  // gid: the file's own
  struct stat st {};
  ASSERT_EQ(::lstat((t / "home" / "u" / "f").c_str(), &st), 0);
  std::set<std::string> xattrs;
  auto owners = Owners(s.BlobPath(WriteLayer(s, t, {}).blob.digest), &xattrs);
  EXPECT_EQ(owners["etc/shadow"], (std::pair<int64_t, int64_t>{0, 42}));
  EXPECT_EQ(owners["home/u"], (std::pair<int64_t, int64_t>{1000, 1000}));
  EXPECT_EQ(owners["home/u/f"], (std::pair<int64_t, int64_t>{1000, st.st_gid}));
  EXPECT_EQ(owners["plain"], (std::pair<int64_t, int64_t>{st.st_uid, st.st_gid}));
  EXPECT_EQ(xattrs.count(sandbox::kOwnerXattr), 0u);  // the record itself is not image content
}

TEST(OwnerRecord, MalformedRecordFailsTheLayer) {
  ScratchDir dir;
  Store s(dir / "store");
  WriteText(dir / "tree" / "f", "x");
  ASSERT_EQ(::lsetxattr((dir / "tree" / "f").c_str(), sandbox::kOwnerXattr, "\x08", 1, 0), 0);
  try {
    WriteLayer(s, dir / "tree", {});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed user.rootlesscontainers"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tree/f"), std::string::npos) << e.what();
  }
}

TEST(OwnerRecord, ExtractDropsARecordFromTheArchive) {
  ScratchDir dir;
  T f = F("f", "x");
  f.uid = 0;
  f.xattrs = {{sandbox::kOwnerXattr, sandbox::EncodeOwner({7, 7})}};
  MakeTar(dir / "l.tar", {f});
  std::vector<std::string> warnings;
  ExtractOptions opts;
  opts.warn = [&](const std::string& w) { warnings.push_back(w); };
  ExtractLayer(dir / "l.tar", dir / "out", opts);
  char buf[16];
  EXPECT_LT(::lgetxattr((dir / "out" / "f").c_str(), sandbox::kOwnerXattr, buf, sizeof buf), 0);
  // (libarchive reports an xattr once per PAX record kind it finds.)
  ASSERT_FALSE(warnings.empty());
  for (const auto& w : warnings) EXPECT_NE(w.find(sandbox::kOwnerXattr), std::string::npos) << w;
}

// Runs `fn` in a new user namespace where only root is mapped (to the
// caller's ids), as for a user with no subordinate range. Returns its exit
// status; 77 when user namespaces are unavailable.
int InSingleIdNamespace(const std::function<int()>& fn) {
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) return 98;
  pid_t pid = fork();
  if (pid < 0) return 98;
  if (pid == 0) {
    char c;
    if (unshare(CLONE_NEWUSER) != 0) _exit(77);
    if (write(to_parent[1], "u", 1) != 1) _exit(97);
    if (read(to_child[0], &c, 1) != 1) _exit(97);
    _exit(fn());
  }
  char c;
  if (read(to_parent[0], &c, 1) != 1) return 96;
  const std::string proc = "/proc/" + std::to_string(pid) + "/";
  std::ofstream(proc + "setgroups") << "deny\n";
  std::ofstream(proc + "uid_map") << "0 " << geteuid() << " 1\n";
  std::ofstream(proc + "gid_map") << "0 " << getegid() << " 1\n";
  if (write(to_child[1], "g", 1) != 1) return 96;
  int status = 0;
  waitpid(pid, &status, 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) close(fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The round trip a build without a range makes: base layer extracted with
// the owners recorded, written again as a layer with the same owners.
TEST(OwnerRecord, SingleIdNamespaceExtractsAndWritesTrueOwners) {
  ScratchDir dir;
  Store s(dir / "store");
  T shadow = F("etc/shadow", "x", 0640);
  shadow.gid = 42;
  T home = D("home/u");
  home.uid = home.gid = 1000;
  T file = F("home/u/f", "y", 04755);
  file.uid = file.gid = 1000;
  T root_file = F("etc/passwd", "root");
  MakeTar(dir / "base.tar", {D("etc"), shadow, root_file, D("home"), home, file});
  const fs::path out = dir / "out";
  const fs::path tar = dir / "again.tar";
  int rc = InSingleIdNamespace([&] {
    try {
      ExtractLayer(dir / "base.tar", out, {});
      LayerOptions lo;
      lo.compression = Compression::kNone;
      Layer l = WriteLayer(s, out, lo);
      fs::copy_file(s.BlobPath(l.blob.digest), tar);
    } catch (const std::exception& e) {
      fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "user namespaces unavailable";
  ASSERT_EQ(rc, 0);
  std::set<std::string> xattrs;
  auto owners = Owners(tar, &xattrs);
  EXPECT_EQ(owners["etc/shadow"], (std::pair<int64_t, int64_t>{0, 42}));
  EXPECT_EQ(owners["etc/passwd"], (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(owners["home/u"], (std::pair<int64_t, int64_t>{1000, 1000}));
  EXPECT_EQ(owners["home/u/f"], (std::pair<int64_t, int64_t>{1000, 1000}));
  EXPECT_EQ(xattrs.count(sandbox::kOwnerXattr), 0u);
  // On disk: the caller's own, setuid bit intact (set after the chown).
  struct stat st {};
  ASSERT_EQ(::lstat((out / "home" / "u" / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

// What RUN's chown emulation does for each call: -1 keeps the id as it
// stands (the record's), mapped owners drop the record.
TEST(OwnerRecord, SingleIdNamespaceChownRecording) {
  ScratchDir dir;
  const fs::path f = dir / "f";
  WriteText(f, "x");
  const fs::path result = dir / "result";
  int rc = InSingleIdNamespace([&] {
    sandbox::UniqueFd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    std::string out;
    auto step = [&](uint32_t uid, uint32_t gid) {
      const int err = sandbox::ChownRecording(fd.get(), uid, gid);
      struct stat st {};
      ::fstat(fd.get(), &st);
      const sandbox::Owner o = sandbox::OwnerOf(f.string(), st);
      out += std::to_string(err) + ":" + std::to_string(o.uid) + ":" + std::to_string(o.gid) + ":" +
             std::to_string(st.st_uid) + " ";
    };
    step(1234, 2345);
    step(0xFFFFFFFF, 7);
    step(0, 0xFFFFFFFF);
    step(0xFFFFFFFF, 0);
    std::ofstream(result) << out;
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "user namespaces unavailable";
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadText(result), "0:1234:2345:0 0:1234:7:0 0:0:7:0 0:0:0:0 ");
  char v[16];
  EXPECT_LT(::lgetxattr(f.c_str(), sandbox::kOwnerXattr, v, sizeof v), 0) << "0:0 leaves no record";
}

// A symlink cannot carry a user xattr: its unmapped owner is a precise error.
TEST(OwnerRecord, SingleIdNamespaceSymlinkOwnerIsAPreciseError) {
  ScratchDir dir;
  T link = L("ln", "target");
  link.uid = 4242;
  MakeTar(dir / "base.tar", {link});
  const fs::path msg = dir / "msg";
  int rc = InSingleIdNamespace([&] {
    try {
      ExtractLayer(dir / "base.tar", dir / "out", {});
    } catch (const std::runtime_error& e) {
      std::ofstream(msg) << e.what();
      return 0;
    }
    return 1;
  });
  if (rc == 77) GTEST_SKIP() << "user namespaces unavailable";
  ASSERT_EQ(rc, 0);
  const std::string m = ReadText(msg);
  EXPECT_NE(m.find("entry \"ln\""), std::string::npos) << m;
  EXPECT_NE(m.find("4242"), std::string::npos) << m;
  EXPECT_NE(m.find("symlink"), std::string::npos) << m;
  EXPECT_NE(m.find("/etc/subuid"), std::string::npos) << m;
}

}  // namespace
}  // namespace kiln::oci
