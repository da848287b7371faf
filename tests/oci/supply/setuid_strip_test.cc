#include "oci/supply/setuid_strip.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci {
namespace {

using testing::Dir;
using testing::File;
using testing::Hardlink;
using testing::Symlink;
using testing::TempDir;
using testing::Whiteout;
using testing::WriteTar;

struct Out {
  unsigned mode = 0;
  std::string data, hardlink;
};

std::map<std::string, Out> ReadOut(const std::filesystem::path& tar) {
  std::map<std::string, Out> out;
  ForEachEntry(tar, [&](const TarEntry& e, const ReadFn& read) {
    out[CleanTarPath(e.path)] = {e.mode, ReadAll(read, 1 << 20), e.hardlink ? CleanTarPath(e.link_target) : ""};
  });
  return out;
}

TEST(SetuidStrip, FinalStateOnlyWithOverridesAndWhiteouts) {
  TempDir tmp;
  auto l0 = tmp.path() / "l0", l1 = tmp.path() / "l1", out_tar = tmp.path() / "out.tar";
  WriteTar(l0, {Dir("usr", 0755), Dir("usr/bin", 0755), File("usr/bin/passwd", "PASSWD-BINARY", 04755),
                File("usr/bin/su", "SU-OLD", 04755), File("usr/bin/gone", "X", 04755),
                File("usr/bin/wall", "WALL", 02755), File("usr/bin/mount", "MOUNT", 04755),
                Hardlink("usr/bin/passwd-link", "usr/bin/passwd", 04755), Dir("var/mail", 02775),
                Dir("opt/app", 0755), File("opt/app/helper", "H", 04750), File("bin/sh", "SH", 0755),
                Symlink("bin/ash", "/bin/busybox"), File("usr/bin/plain", "P", 0755)});
  // l1 replaces su without the bit, deletes "gone", makes opt/app opaque.
  WriteTar(l1, {File("usr/bin/su", "SU-NEW", 0755), Whiteout("usr/bin/.wh.gone"), Dir("opt/app", 0755),
                File("opt/app/.wh..wh..opq", ""), File("opt/app/new", "N", 0755),
                File("usr/local/bin/tool", "TOOL-L1", 06711)});
  StripOptions opts;
  opts.keep_setuid = {"/usr/bin/mount"};
  opts.strip_shells = DefaultShells();
  auto r = StripSetuidLayers({{l0, "sha256:l0"}, {l1, "sha256:l1"}}, opts, out_tar);

  std::map<std::string, std::pair<unsigned, unsigned>> changed;
  for (const auto& c : r.changed) changed[c.path] = {c.old_mode, c.new_mode};
  std::map<std::string, std::pair<unsigned, unsigned>> want = {
      {"/usr/bin/passwd", {04755, 0755}}, {"/usr/bin/passwd-link", {04755, 0755}},
      {"/usr/bin/wall", {02755, 0755}},   {"/var/mail", {02775, 0775}},
      {"/usr/local/bin/tool", {06711, 0711}}};
  EXPECT_EQ(changed, want);
  EXPECT_EQ(r.kept, std::vector<std::string>{"/usr/bin/mount"});
  EXPECT_EQ(r.removed, (std::vector<std::string>{"/bin/ash", "/bin/sh"}));

  auto out = ReadOut(out_tar);
  ASSERT_TRUE(out.count("usr/bin/passwd"));
  EXPECT_EQ(out["usr/bin/passwd"].data, "PASSWD-BINARY");
  EXPECT_EQ(out["usr/bin/passwd"].mode & 07777u, 0755u);
  EXPECT_EQ(out["usr/bin/passwd-link"].hardlink, "usr/bin/passwd");
  EXPECT_EQ(out["usr/local/bin/tool"].data, "TOOL-L1");
  EXPECT_EQ(out["usr/local/bin/tool"].mode & 07777u, 0711u);
  EXPECT_EQ(out["var/mail"].mode & 07777u, 0775u);
  EXPECT_TRUE(S_ISDIR(out["usr/bin"].mode)) << "parent dirs carried with their metadata";
  EXPECT_EQ(out["usr/bin"].mode & 07777u, 0755u);
  EXPECT_TRUE(out.count("bin/.wh.sh"));
  EXPECT_TRUE(out.count("bin/.wh.ash"));
  for (const char* absent : {"usr/bin/su", "usr/bin/gone", "opt/app/helper", "usr/bin/mount", "usr/bin/plain"})
    EXPECT_FALSE(out.count(absent)) << absent;
  for (const auto& [p, o] : out) EXPECT_EQ(o.mode & (S_ISUID | S_ISGID), 0u) << p;
  EXPECT_NE(FormatStripReport(r).find("/usr/bin/passwd 4755 -> 0755"), std::string::npos) << FormatStripReport(r);

  // Applying the strip layer on top leaves no setuid/setgid bit in the image.
  auto again = StripSetuidLayers({{l0, "l0"}, {l1, "l1"}, {out_tar, "strip"}}, opts, tmp.path() / "again.tar");
  EXPECT_TRUE(again.changed.empty());
}

// The state of a base remembered (the finalize memo): a new image on it
// reads only the layers above; the base's blob is not opened (here it does
// not exist), the data of its set-bit files comes from its unpacked dir, and
// the fix-up layer is byte for byte the one a full walk makes.
TEST(SetuidStrip, KnownBaseStateReadsOnlyTheLayersAbove) {
  TempDir tmp;
  auto l0 = tmp.path() / "l0", l1 = tmp.path() / "l1";
  WriteTar(l0, {Dir("usr", 0755), Dir("usr/bin", 0750), File("usr/bin/passwd", "PASSWD-BINARY", 04755),
                Hardlink("usr/bin/passwd-link", "usr/bin/passwd", 04755), File("usr/bin/su", "SU", 04755),
                File("usr/bin/gone", "X", 04755), Dir("opt/app", 0755), File("opt/app/helper", "H", 04750),
                Dir("var/mail", 02775), File("bin/sh", "SH", 0755)});
  WriteTar(l1, {File("usr/bin/su", "SU-NEW", 0755), Whiteout("usr/bin/.wh.gone"), Dir("opt/app", 0755),
                File("opt/app/.wh..wh..opq", ""), File("usr/local/bin/tool", "TOOL-L1", 06711)});
  StripOptions opts;
  opts.strip_shells = DefaultShells();
  auto full = StripSetuidLayers({{l0, "sha256:l0"}, {l1, "sha256:l1"}}, opts, tmp.path() / "full.tar");
  ASSERT_EQ(full.walked.size(), 2u);
  EXPECT_EQ(full.walked[0].layers, 1u);
  EXPECT_EQ(full.walked[1].layers, 2u);

  auto unpacked = tmp.path() / "l0-unpacked";
  std::filesystem::create_directories(unpacked / "usr/bin");
  std::ofstream(unpacked / "usr/bin/passwd") << "PASSWD-BINARY";
  StripOptions known = opts;
  known.below = SetBitsState::FromJson(full.walked[0].ToJson());
  ASSERT_TRUE(known.below);
  auto missing = tmp.path() / "no-such-blob";
  auto r = StripSetuidLayers({{missing, "sha256:l0", unpacked}, {l1, "sha256:l1"}}, known, tmp.path() / "known.tar");
  ASSERT_EQ(r.walked.size(), 1u) << "only the layer above the known base is walked";
  EXPECT_EQ(FormatStripReport(r), FormatStripReport(full));
  auto bytes = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(bytes(tmp.path() / "known.tar"), bytes(tmp.path() / "full.tar"));
  auto out = ReadOut(tmp.path() / "known.tar");
  EXPECT_EQ(out["usr/bin/passwd"].data, "PASSWD-BINARY");
  EXPECT_EQ(out["usr/bin/passwd-link"].hardlink, "usr/bin/passwd");
  EXPECT_EQ(out["usr/bin"].mode & 07777u, 0750u) << "parent dir metadata from the remembered state";
  EXPECT_FALSE(out.count("usr/bin/su"));
  EXPECT_FALSE(out.count("opt/app/helper"));
  EXPECT_TRUE(out.count("bin/.wh.sh"));
  EXPECT_FALSE(SetBitsState::FromJson(nlohmann::json::parse(R"({"v":2})")));
}

TEST(SetuidStrip, NothingToDoGivesEmptyValidTar) {
  TempDir tmp;
  auto l0 = tmp.path() / "l0";
  WriteTar(l0, {File("a", "x", 0755)});
  auto r = StripSetuidLayers({{l0, "l0"}}, {}, tmp.path() / "out.tar");
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(ReadOut(tmp.path() / "out.tar").empty());
}

}  // namespace
}  // namespace kiln::oci
