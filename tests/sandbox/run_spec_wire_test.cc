#include "sandbox/run_spec_wire.h"

#include <gtest/gtest.h>

#include "sandbox/error.h"

namespace kiln::sandbox {
namespace {

TEST(RunSpecWire, EveryFieldSurvivesTheTrip) {
  RunSpec spec;
  spec.rootfs = "/tmp/root";
  spec.argv = {"/bin/sh", "-c", "echo hi"};
  spec.env = {"A=1", "PATH=/bin"};
  spec.cwd = "/work";
  spec.uid = 1000;
  spec.gid = 1001;
  spec.groups = {27, 100};
  spec.hostname = "box";
  spec.network = Network::kNone;
  Mount tmp;
  tmp.type = Mount::Type::kTmpfs;
  tmp.target = "/tmp";
  tmp.tmpfs_size = 1 << 20;
  tmp.mode = 01777;
  Mount bind;
  bind.source = "/src";
  bind.target = "/mnt";
  bind.readonly = true;
  spec.mounts = {tmp, bind};
  spec.extra_hosts = {{"db", "10.0.0.2"}};
  spec.rlimits = {{7, 1024, 4096}};
  spec.shm_size = 64 << 20;

  const RunSpec back = SpecFromJson(SpecToJson(spec));
  EXPECT_EQ(back.rootfs, spec.rootfs);
  EXPECT_EQ(back.argv, spec.argv);
  EXPECT_EQ(back.env, spec.env);
  EXPECT_EQ(back.cwd, spec.cwd);
  EXPECT_EQ(back.uid, spec.uid);
  EXPECT_EQ(back.gid, spec.gid);
  EXPECT_EQ(back.groups, spec.groups);
  EXPECT_EQ(back.hostname, spec.hostname);
  EXPECT_EQ(back.network, Network::kNone);
  ASSERT_EQ(back.mounts.size(), 2u);
  EXPECT_EQ(back.mounts[0].type, Mount::Type::kTmpfs);
  EXPECT_EQ(back.mounts[0].tmpfs_size, 1u << 20);
  EXPECT_EQ(back.mounts[0].mode, 01777u);
  EXPECT_EQ(back.mounts[1].source, "/src");
  EXPECT_TRUE(back.mounts[1].readonly);
  EXPECT_EQ(back.extra_hosts, spec.extra_hosts);
  ASSERT_EQ(back.rlimits.size(), 1u);
  EXPECT_EQ(back.rlimits[0].hard, 4096u);
  EXPECT_EQ(back.shm_size, spec.shm_size);
}

TEST(RunSpecWire, MalformedInputIsASandboxError) {
  EXPECT_THROW(SpecFromJson("{\"rootfs\": 1}"), Error);
  EXPECT_THROW(SpecFromJson("not json"), Error);
}

}  // namespace
}  // namespace kiln::sandbox
