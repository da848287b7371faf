#include "sandbox/id_map.h"

#include <gtest/gtest.h>

#include "sandbox/userns.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace kiln::sandbox {
namespace {

TEST(IdMapTest, ReadsRangesByNameOrUid) {
  std::string dir = testing::MakeTempDir("kiln-sbx-subid");
  testing::WriteText(dir + "/subuid",
                     "# comment\n"
                     "alice:100000:65536\n"
                     "bob:200000:1000\n"
                     "1001:300000:10\n"
                     "alice:500000:5\n"
                     "broken:line\n"
                     "alice:x:5\n");
  auto alice = ReadSubIdRanges(dir + "/subuid", "alice", 1000);
  ASSERT_EQ(alice.size(), 2u);
  EXPECT_EQ(alice[0].start, 100000u);
  EXPECT_EQ(alice[0].count, 65536u);
  EXPECT_EQ(alice[1].start, 500000u);
  auto by_uid = ReadSubIdRanges(dir + "/subuid", "carol", 1001);
  ASSERT_EQ(by_uid.size(), 1u);
  EXPECT_EQ(by_uid[0].start, 300000u);
  EXPECT_TRUE(ReadSubIdRanges(dir + "/subuid", "dave", 4).empty());
  EXPECT_TRUE(ReadSubIdRanges(dir + "/missing", "alice", 1000).empty());
  std::filesystem::remove_all(dir);
}

TEST(IdMapTest, BuildsMappingsAndParsesProcMaps) {
  auto map = BuildMappings(1000, {{100000, 65536}, {500000, 5}});
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].inside, 0u);
  EXPECT_EQ(map[0].outside, 1000u);
  EXPECT_EQ(map[1].inside, 1u);
  EXPECT_EQ(map[2].inside, 65537u);
  auto parsed = ParseIdMap("         0       1000          1\n         1     100000      65536\n");
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1].outside, 100000u);
  NamespaceState state;
  state.uid_map = state.gid_map = parsed;
  EXPECT_TRUE(state.CanOwn(0, 0));
  EXPECT_TRUE(state.CanOwn(65536, 1));
  EXPECT_FALSE(state.CanOwn(65537, 0));
}

TEST(IdMapTest, CurrentNamespaceMatchesTheInvoker) {
  const NamespaceState& ns = CurrentNamespace();
  ASSERT_FALSE(ns.uid_map.empty());
  if (ns.rootless) {
    EXPECT_EQ(ns.uid_map[0].inside, 0u);
    EXPECT_EQ(ns.uid_map[0].outside, ns.host_uid);
    EXPECT_EQ(ns.full_range, ns.uid_map.size() > 1);
    std::printf("[ INFO ] rootless, host uid %u, %s\n", ns.host_uid,
                ns.full_range ? "subordinate range mapped" : "single mapping");
  } else {
    EXPECT_TRUE(ns.CanOwn(1234, 2345));
  }
  // Entering the namespace also gave this process a private mount namespace.
  EXPECT_NE(testing::ReadText("/proc/self/mountinfo").size(), 0u);
  // We got here through a user namespace: nothing may claim they are off.
  if (ns.rootless) {
    auto reason = ProbeUserNamespaces();
    EXPECT_FALSE(reason.has_value()) << *reason;
  }
}

}  // namespace
}  // namespace kiln::sandbox
