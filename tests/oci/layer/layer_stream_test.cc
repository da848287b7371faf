// LayerStream: the uncompressed stream is hashed while extracting, and
// compressed data a blob digest vouches for but no diff_id covers (broken
// CRCs, trailing bytes, truncation) is refused.
#include "oci/layer/layer_stream.h"

#include <gtest/gtest.h>

#include "oci/error.h"
#include "oci/layer/layer.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;
using namespace ocitest;

// The text of the error ExtractLayer throws ("" when it succeeds).
std::string ExtractError(const fs::path& blob, const fs::path& target) {
  try {
    ExtractLayer(blob, target, {});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class Stream : public ::testing::Test {
 protected:
  // A gzip layer and its uncompressed tar.
  void SetUp() override {
    MakeTar(tar_, {D("etc"), F("etc/motd", std::string(50000, 'm')), F("bin/sh", "#!genuine")}, Z::kNone);
    MakeTar(gz_, {D("etc"), F("etc/motd", std::string(50000, 'm')), F("bin/sh", "#!genuine")}, Z::kGzip);
  }
  std::string Bytes(const fs::path& p) { return ReadText(p); }
  fs::path Write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    WriteText(p, bytes);
    return p;
  }
  ScratchDir dir_;
  fs::path tar_ = dir_ / "layer.tar", gz_ = dir_ / "layer.tar.gz";
};

TEST_F(Stream, ExtractReturnsTheDigestOfTheWholeUncompressedStream) {
  // libarchive pads the tar past its end-of-archive blocks; the diff_id
  // covers those bytes too, though no tar reader needs them.
  const Digest want = Sha256OfFile(tar_);
  EXPECT_EQ(ExtractLayer(gz_, dir_ / "a", {}), want);
  EXPECT_EQ(ExtractLayer(tar_, dir_ / "b", {}), want);
  EXPECT_EQ(LayerDiffId(gz_), want);
  EXPECT_EQ(ReadText(dir_ / "a" / "bin" / "sh"), "#!genuine");
  auto zst = dir_ / "layer.tar.zst";
  MakeTar(zst, {D("etc"), F("etc/motd", std::string(50000, 'm')), F("bin/sh", "#!genuine")}, Z::kZstd);
  EXPECT_EQ(ExtractLayer(zst, dir_ / "c", {}), want);
}

TEST_F(Stream, DiffIdMatchesWriteLayer) {
  Store s(dir_ / "store");
  WriteText(dir_ / "tree" / "a", "a");
  WriteText(dir_ / "tree" / "d" / "b", std::string(3 << 20, 'b'));  // several gzip members
  const Layer l = WriteLayer(s, dir_ / "tree", {});
  EXPECT_EQ(ExtractLayer(s.BlobPath(l.blob.digest), dir_ / "out", {}), l.diff_id);
  LayerOptions zstd;
  zstd.compression = Compression::kZstd;
  const Layer z = WriteLayer(s, dir_ / "tree", zstd);
  EXPECT_EQ(LayerDiffId(s.BlobPath(z.blob.digest)), l.diff_id);
}

TEST_F(Stream, ConcatenatedGzipMembersAreOneStream) {
  const std::string tar = Bytes(tar_);
  // Two members holding the two halves of the tar (what pigz or kiln's own
  // writer produce).
  const fs::path a = Write("a.tar", tar.substr(0, 1000)), b = Write("b.tar", tar.substr(1000));
  ASSERT_EQ(std::system(("gzip -n -k " + a.string() + " " + b.string()).c_str()), 0);
  const auto two = Write("two.tar.gz", Bytes(a.string() + ".gz") + Bytes(b.string() + ".gz"));
  EXPECT_EQ(ExtractLayer(two, dir_ / "out", {}), Sha256Of(tar));
}

TEST_F(Stream, GzipWithBrokenCrcIsRefused) {
  std::string gz = Bytes(gz_);
  gz[gz.size() - 8] ^= 0x01;  // the CRC-32 of the trailer; the deflate data is intact
  const auto bad = Write("crc.tar.gz", gz);
  const std::string err = ExtractError(bad, dir_ / "out");
  EXPECT_NE(err.find("incorrect data check"), std::string::npos) << err;
  EXPECT_NE(err.find(bad.string()), std::string::npos) << err;
  EXPECT_THROW(LayerDiffId(bad), Error);
}

TEST_F(Stream, GzipWithWrongLengthIsRefused) {
  std::string gz = Bytes(gz_);
  gz[gz.size() - 1] ^= 0x40;  // ISIZE
  const std::string err = ExtractError(Write("len.tar.gz", gz), dir_ / "out");
  EXPECT_NE(err.find("incorrect length check"), std::string::npos) << err;
}

TEST_F(Stream, TrailingDataAfterTheLastGzipMemberIsRefused) {
  for (const std::string& tail : {std::string("PAYLOAD"), std::string(512, '\0'), std::string("\x1f")}) {
    const auto bad = Write("tail.tar.gz", Bytes(gz_) + tail);
    const std::string err = ExtractError(bad, dir_ / "out");
    EXPECT_NE(err.find("trailing data after the last gzip member"), std::string::npos) << err;
    EXPECT_NE(err.find(std::to_string(fs::file_size(gz_))), std::string::npos) << "names the offset: " << err;
  }
}

TEST_F(Stream, TruncatedGzipIsRefused) {
  const std::string gz = Bytes(gz_);
  // Cut inside the trailer: every tar byte may be there, the checks are not.
  for (size_t cut : {size_t{4}, gz.size() / 2}) {
    const std::string err = ExtractError(Write("cut.tar.gz", gz.substr(0, gz.size() - cut)), dir_ / "out");
    EXPECT_FALSE(err.empty()) << "cut " << cut;
  }
}

TEST_F(Stream, ZstdTrailingDataAndTruncationAreRefused) {
  auto zst = dir_ / "layer.tar.zst";
  MakeTar(zst, {F("a", std::string(100000, 'a'))}, Z::kZstd);
  const std::string z = Bytes(zst);
  EXPECT_NE(ExtractError(Write("tail.zst", z + "PAYLOAD!"), dir_ / "o1").find("zstd"), std::string::npos);
  EXPECT_NE(ExtractError(Write("cut.zst", z.substr(0, z.size() - 3)), dir_ / "o2").find("zstd"), std::string::npos);
}

TEST_F(Stream, ZstdChecksumIsChecked) {
  if (!HaveTool("zstd")) GTEST_FAIL() << "zstd(1) is needed (scripts/setup.sh --test installs it)";
  ASSERT_EQ(std::system(("zstd -q --check -o " + (dir_ / "c.tar.zst").string() + " " + tar_.string()).c_str()), 0);
  std::string z = Bytes(dir_ / "c.tar.zst");
  EXPECT_EQ(LayerDiffId(dir_ / "c.tar.zst"), Sha256OfFile(tar_));
  z[z.size() - 1] ^= 0x01;  // the frame's content checksum
  const std::string err = ExtractError(Write("sum.tar.zst", z), dir_ / "out");
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
}

TEST_F(Stream, ForEachEntryChecksTheTrailerToo) {
  std::string gz = Bytes(gz_);
  gz[gz.size() - 8] ^= 0x01;
  EXPECT_THROW(ForEachEntry(Write("crc.tar.gz", gz), [](const TarEntry&, const ReadFn&) {}), Error);
}

}  // namespace
}  // namespace kiln::oci
