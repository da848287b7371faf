#include "oci/reference.h"

#include <gtest/gtest.h>

#include "oci/error.h"

namespace kiln::oci {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(Reference, DockerHubDefaults) {
  auto r = Reference::Parse("busybox");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.digest, "");
  EXPECT_EQ(r.str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r.familiar(), "busybox:latest");
  EXPECT_EQ(r.api_host(), "registry-1.docker.io");
  EXPECT_FALSE(r.is_localhost());

  auto u = Reference::Parse("someuser/app:1.0");
  EXPECT_EQ(u.registry, "docker.io");
  EXPECT_EQ(u.repository, "someuser/app");
  EXPECT_EQ(u.familiar(), "someuser/app:1.0");
  EXPECT_EQ(Reference::Parse("index.docker.io/library/alpine").str(), "docker.io/library/alpine:latest");
  EXPECT_EQ(Reference::Parse("docker.io/alpine:3").str(), "docker.io/library/alpine:3");
}

TEST(Reference, RegistryWithPortTagAndDigest) {
  auto r = Reference::Parse("localhost:5000/a/b:v1");
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(r.repository, "a/b");
  EXPECT_EQ(r.tag, "v1");
  EXPECT_TRUE(r.is_localhost());
  EXPECT_EQ(r.api_host(), "localhost:5000");
  EXPECT_EQ(r.familiar(), "localhost:5000/a/b:v1");

  // A port without a tag: the colon belongs to the host.
  auto p = Reference::Parse("127.0.0.1:5000/app");
  EXPECT_EQ(p.registry, "127.0.0.1:5000");
  EXPECT_EQ(p.repository, "app");  // no library/ outside docker.io
  EXPECT_EQ(p.tag, "latest");
  EXPECT_TRUE(p.is_localhost());

  auto d = Reference::Parse("quay.io/org/img@sha256:" + kHex);
  EXPECT_EQ(d.registry, "quay.io");
  EXPECT_EQ(d.tag, "");
  EXPECT_EQ(d.digest, "sha256:" + kHex);
  EXPECT_EQ(d.str(), "quay.io/org/img@sha256:" + kHex);

  auto td = Reference::Parse("ghcr.io/o/i:1.2@sha256:" + kHex);
  EXPECT_EQ(td.tag, "1.2");
  EXPECT_EQ(td.digest, "sha256:" + kHex);

  auto v6 = Reference::Parse("[::1]:5000/x:y");
  EXPECT_EQ(v6.registry, "[::1]:5000");
  EXPECT_TRUE(v6.is_localhost());
  EXPECT_EQ(Reference::Parse("localhost/x").registry, "localhost");
}

TEST(Reference, RejectsMalformed) {
  for (const char* bad : {"", "UPPER/case", "a//b", "a:", "a:b:c/d", "registry.io/", "x@sha256:abc",
                          "x@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                          "x:-tag", "a/b_/c", ":tag", "@sha256:"}) {
    EXPECT_THROW(Reference::Parse(bad), Error) << bad;
  }
  try {
    Reference::Parse("Busybox");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"Busybox\""), std::string::npos) << e.what();
  }
}

TEST(Reference, RoundTripsThroughStr) {
  for (const char* text : {"docker.io/library/busybox:latest", "localhost:5000/a/b:v1",
                           "registry.example.com:443/ns/sub/repo:tag-1.0_x"}) {
    EXPECT_EQ(Reference::Parse(text).str(), text);
    EXPECT_EQ(Reference::Parse(Reference::Parse(text).familiar()).str(), text);
  }
}

}  // namespace
}  // namespace kiln::oci
