#include "oci/platform.h"

#include <gtest/gtest.h>

#include "oci/error.h"
#include "oci/image.h"

namespace kiln::oci {
namespace {

TEST(Platform, ParseNormalisesAsContainerdDoes) {
  EXPECT_EQ(Platform::Parse("arm64").str(), "linux/arm64");
  EXPECT_EQ(Platform::Parse("linux/arm64/v8").str(), "linux/arm64");
  EXPECT_EQ(Platform::Parse("linux/aarch64").str(), "linux/arm64");
  EXPECT_EQ(Platform::Parse("amd64").str(), "linux/amd64");
  EXPECT_EQ(Platform::Parse("linux/x86_64").str(), "linux/amd64");
  EXPECT_EQ(Platform::Parse("linux/amd64/v1").str(), "linux/amd64");
  EXPECT_EQ(Platform::Parse("linux/amd64/v3").str(), "linux/amd64/v3");
  EXPECT_EQ(Platform::Parse("arm").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::Parse("linux/arm/6").str(), "linux/arm/v6");
  EXPECT_EQ(Platform::Parse("linux/armhf").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::Parse("i386").str(), "linux/386");
  EXPECT_EQ(Platform::Parse("Linux/PPC64LE").str(), "linux/ppc64le");
  EXPECT_EQ(Platform::Parse("s390x").str(), "linux/s390x");
  EXPECT_EQ(Platform::Parse("riscv64").str(), "linux/riscv64");
}

TEST(Platform, ParseRefusesMalformedSpellings) {
  for (const char* bad : {"", "linux/", "/amd64", "linux/arm/v7/x", "linux/am d64", "linux//amd64"}) {
    try {
      Platform::Parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("os/arch[/variant]"), std::string::npos) << e.what();
    }
  }
}

TEST(Platform, ListKeepsOrderAndDropsDuplicates) {
  const auto l = ParsePlatformList("linux/amd64, linux/arm64,arm64/v8,amd64");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].str(), "linux/amd64");
  EXPECT_EQ(l[1].str(), "linux/arm64");
  EXPECT_THROW(ParsePlatformList("linux/amd64,,linux/arm64"), Error);
  EXPECT_THROW(ParsePlatformList(""), Error);
}

TEST(Platform, HostIsNormal) {
  const Platform h = Platform::Host();
  EXPECT_EQ(Normalize(h), h);
  EXPECT_FALSE(UnameMachine(h).empty());
}

TEST(Platform, MatchRankPrefersExactThenOlderVariants) {
  const auto P = [](const char* s) { return Platform::Parse(s); };
  EXPECT_EQ(MatchRank(P("arm64"), Platform{"linux", "arm64", "v8"}), 0);  // index entries often say v8
  EXPECT_EQ(MatchRank(P("arm/v7"), P("arm/v7")), 0);
  EXPECT_EQ(MatchRank(P("arm/v7"), P("arm/v6")), 1);
  EXPECT_EQ(MatchRank(P("arm/v7"), P("arm/v5")), 2);
  EXPECT_EQ(MatchRank(P("arm/v6"), P("arm/v7")), -1);
  EXPECT_EQ(MatchRank(P("amd64/v3"), P("amd64")), 2);
  EXPECT_EQ(MatchRank(P("amd64"), P("amd64/v2")), -1);
  EXPECT_EQ(MatchRank(P("amd64"), P("386")), -1);  // another architecture: never
  EXPECT_EQ(MatchRank(P("arm64"), P("arm/v7")), -1);
  EXPECT_EQ(MatchRank(P("linux/amd64"), P("windows/amd64")), -1);
}

Index TwoPlatformIndex() {
  Index idx;
  Descriptor a;
  a.platform = Platform{"linux", "amd64", ""};
  Descriptor b;
  b.platform = Platform{"linux", "arm64", "v8"};
  Descriptor att;  // BuildKit's attestation manifests
  att.platform = Platform{"unknown", "unknown", ""};
  idx.manifests = {att, a, b};
  return idx;
}

TEST(Platform, ChooseManifestPicksAndNamesWhatIsThere) {
  const Index idx = TwoPlatformIndex();
  EXPECT_EQ(ChooseManifest(idx, Platform::Parse("arm64"), "x").platform->architecture, "arm64");
  EXPECT_EQ(ChooseManifest(idx, Platform::Parse("amd64"), "x").platform->architecture, "amd64");
  EXPECT_EQ(DescribePlatforms(idx), "linux/amd64, linux/arm64/v8");
  try {
    ChooseManifest(idx, Platform::Parse("s390x"), "busybox:latest");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "busybox:latest: no manifest for platform linux/s390x (available: linux/amd64, linux/arm64/v8)");
  }
}

TEST(Platform, UnameMachineNamesQemuTargets) {
  EXPECT_EQ(UnameMachine(Platform::Parse("arm64")), "aarch64");
  EXPECT_EQ(UnameMachine(Platform::Parse("amd64")), "x86_64");
  EXPECT_EQ(UnameMachine(Platform::Parse("arm/v7")), "armv7l");
  EXPECT_EQ(UnameMachine(Platform::Parse("s390x")), "s390x");
}

}  // namespace
}  // namespace kiln::oci
