#include "oci/digest.h"

#include <gtest/gtest.h>

#include "oci/error.h"
#include "tests/oci/ocicore_test_util.h"

namespace kiln::oci {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(Sha256Of("").str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of("abc").hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(1 << 20, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 4093) h.Update(data.data() + off, std::min<size_t>(4093, data.size() - off));
  EXPECT_EQ(h.Final(), Sha256Of(data));
}

TEST(Digest, FileIsStreamed) {
  ocitest::ScratchDir dir;
  std::string data(3 << 20, 'q');
  ocitest::WriteText(dir / "f", data);
  EXPECT_EQ(Sha256OfFile(dir / "f"), Sha256Of(data));
  EXPECT_THROW(Sha256OfFile(dir / "missing"), Error);
}

TEST(Digest, ParseRoundTripAndRejects) {
  auto d = Digest::Parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.algorithm, "sha256");
  EXPECT_EQ(d.str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THROW(Digest::Parse("e3b0c442"), Error);
  EXPECT_THROW(Digest::Parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), Error);
  EXPECT_THROW(Digest::Parse("sha256:abc"), Error);
  EXPECT_THROW(Digest::Parse("md5:d41d8cd98f00b204e9800998ecf8427e"), Error);
  EXPECT_THROW(Digest::Parse("sha256:../../../../etc/passwd00000000000000000000000000000000000000"), Error);
}

TEST(Digest, FinalTwiceThrows) {
  Sha256 h;
  h.Final();
  EXPECT_THROW(h.Final(), Error);
}

}  // namespace
}  // namespace kiln::oci
