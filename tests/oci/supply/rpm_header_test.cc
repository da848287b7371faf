#include "oci/supply/rpm_header.h"

#include <gtest/gtest.h>

#include <map>

#include "oci/error.h"
#include "tests/oci/supply/rpmdb_test_util.h"

namespace kiln::oci {
namespace {

// tests/data/rpmdb/expected-qa.txt: `rpm -qa --qf` of the fixture,
// NAME|EPOCH|VERSION|RELEASE|ARCH|LICENSE|VENDOR|SOURCERPM with "(none)".
std::map<std::string, std::vector<std::string>> ExpectedQa() {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(testing::ReadTestDataFile("rpmdb/expected-qa.txt"));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    for (size_t s = 0;;) {
      size_t bar = line.find('|', s);
      f.push_back(line.substr(s, bar == std::string::npos ? std::string::npos : bar - s));
      if (bar == std::string::npos) break;
      s = bar + 1;
    }
    if (f.size() == 8) out[f[0]] = f;
  }
  return out;
}

std::string OrNone(const std::string& s) { return s.empty() ? "(none)" : s; }

TEST(RpmHeader, RealHeadersMatchRpmQa) {
  auto want = ExpectedQa();
  ASSERT_EQ(want.size(), 6u);
  auto blobs = testing::RpmdbFixtureBlobs();
  ASSERT_EQ(blobs.size(), 6u);
  bool big = false;
  for (const auto& [hnum, blob] : blobs) {
    RpmHeaderInfo h = ParseRpmHeader(blob, "hnum " + std::to_string(hnum));
    ASSERT_TRUE(want.count(h.name)) << h.name;
    const auto& f = want[h.name];
    EXPECT_EQ(h.epoch ? std::to_string(*h.epoch) : "(none)", f[1]) << h.name;
    EXPECT_EQ(h.version, f[2]);
    EXPECT_EQ(h.release, f[3]);
    EXPECT_EQ(h.arch, f[4]);
    EXPECT_EQ(h.license, f[5]);
    EXPECT_EQ(OrNone(h.vendor), f[6]);
    EXPECT_EQ(h.source_rpm, f[7]);
    if (h.name == "kiln-fixture-a") {
      EXPECT_EQ(h.packager, "Kiln Test <test@example.invalid>");
      big = blob.size() > 4096;  // read back through the overflow pages
    }
  }
  EXPECT_TRUE(big);
}

TEST(RpmHeader, TruncatedAndFlippedRealHeadersAreErrorsOrHarmless) {
  auto blobs = testing::RpmdbFixtureBlobs();
  const std::string& blob = blobs.front().second;
  for (size_t cut = 0; cut < blob.size(); ++cut)
    EXPECT_THROW(ParseRpmHeader(blob.substr(0, cut), "x"), Error) << "cut at " << cut;
  // Flips in the intro and the index (the first 8 + 16 * il bytes) may only
  // ever yield an Error or a header; ASan/UBSan watch the reads.
  uint32_t seed = 7;
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string d = blob;
    seed = seed * 1103515245 + 12345;
    size_t at = (seed >> 8) % std::min<size_t>(d.size(), 8 + 16 * 60);
    d[at] ^= static_cast<char>(1 + (seed >> 3) % 255);
    try {
      ParseRpmHeader(d, "x");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

// A header blob from (tag, type, data, count) entries laid out in order.
struct TestEntry {
  uint32_t tag, type;
  std::string data;
  uint32_t count = 1;
};

void PutBe(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>(v >> (8 * i));
}

std::string MakeHeader(const std::vector<TestEntry>& entries) {
  std::string index, data;
  for (const auto& e : entries) {
    if (e.type == 4)
      while (data.size() % 4) data += '\0';
    PutBe(index, e.tag);
    PutBe(index, e.type);
    PutBe(index, static_cast<uint32_t>(data.size()));
    PutBe(index, e.count);
    data += e.data;
  }
  std::string out;
  PutBe(out, static_cast<uint32_t>(entries.size()));
  PutBe(out, static_cast<uint32_t>(data.size()));
  return out + index + data;
}

std::string Be(uint32_t v) {
  std::string s;
  PutBe(s, v);
  return s;
}

std::string ErrorOf(const std::string& blob) {
  try {
    ParseRpmHeader(blob, "t");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(RpmHeader, SyntheticHeaders) {
  std::vector<TestEntry> base = {{1000, 6, std::string("bash\0", 5)},
                                 {1001, 6, std::string("5.2.15\0", 7)},
                                 {1002, 6, std::string("3.fc38\0", 7)},
                                 {1003, 4, Be(1)},
                                 {1004, 9, std::string("The shell\0Die Shell\0", 20), 2},
                                 {1022, 6, std::string("x86_64\0", 7)}};
  RpmHeaderInfo h = ParseRpmHeader(MakeHeader(base), "t");
  EXPECT_EQ(h.name, "bash");
  EXPECT_EQ(h.version, "5.2.15");
  EXPECT_EQ(h.release, "3.fc38");
  ASSERT_TRUE(h.epoch);
  EXPECT_EQ(*h.epoch, 1u);
  EXPECT_EQ(h.arch, "x86_64");
  EXPECT_EQ(h.license, "");

  auto with = base;  // a dribble entry repeating a tag wins over the region's
  with.push_back({1014, 8, std::string("MIT\0BSD\0", 8), 2});
  with.push_back({1000, 6, std::string("bash2\0", 6)});
  h = ParseRpmHeader(MakeHeader(with), "t");
  EXPECT_EQ(h.name, "bash2");
  EXPECT_EQ(h.license, "MIT");

  with = base;
  with.erase(with.begin());
  EXPECT_EQ(ErrorOf(MakeHeader(with)), "t: rpm header: NAME, VERSION or RELEASE is missing or empty");
  with = base;
  with[3] = {1003, 6, std::string("1\0", 2)};
  EXPECT_EQ(ErrorOf(MakeHeader(with)), "t: rpm header: EPOCH has type 6 and count 1, not one INT32");
  with = base;
  with[0].type = 4;
  EXPECT_EQ(ErrorOf(MakeHeader(with)), "t: rpm header: tag 1000 has type 4, not a string");
  with = base;
  with[0].type = 12;
  EXPECT_EQ(ErrorOf(MakeHeader(with)), "t: rpm header: tag 1000 has unknown type 12");
  with = base;
  with.back().data = "x86_64";  // no NUL before the end of the data
  EXPECT_EQ(ErrorOf(MakeHeader(with)), "t: rpm header: string of tag 1022 runs past the data");

  std::string blob = MakeHeader(base);
  EXPECT_EQ(ErrorOf(blob + "x"), "t: rpm header: size " + std::to_string(blob.size() + 1) +
                                     " does not match 8 + 16 * 6 entries + " +
                                     std::to_string(blob.size() - 8 - 96) + " bytes of data");
  std::string d = blob;
  d.replace(8 + 2 * 16 + 8, 4, Be(100000));  // RELEASE's offset
  EXPECT_EQ(ErrorOf(d), "t: rpm header: tag 1002 offset 100000 is past the data (" +
                            std::to_string(blob.size() - 8 - 96) + " bytes)");
  d = blob;
  d.replace(8 + 3 * 16 + 8, 4, Be(static_cast<uint32_t>(blob.size() - 8 - 96 - 2)));  // EPOCH's last 2 bytes
  EXPECT_EQ(ErrorOf(d), "t: rpm header: EPOCH runs past the data");
  EXPECT_EQ(ErrorOf(Be(0x10000) + Be(0)), "t: rpm header: index count 65536 is out of range");
  EXPECT_EQ(ErrorOf(Be(1) + Be(0x10000000)), "t: rpm header: data size 268435456 is out of range");
  EXPECT_EQ(ErrorOf(Be(0xffffffff) + Be(0xffffffff)), "t: rpm header: index count 4294967295 is out of range");
  EXPECT_EQ(ErrorOf("abc"), "t: rpm header: blob of 3 bytes is shorter than its 8-byte intro");
}

}  // namespace
}  // namespace kiln::oci
