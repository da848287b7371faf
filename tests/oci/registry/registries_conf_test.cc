#include "oci/registry/registries_conf.h"

#include <gtest/gtest.h>

#include "oci/error.h"

namespace kiln::oci {
namespace {

std::vector<std::string> Sources(const RegistriesConf& conf, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& s : conf.PullSources(Reference::Parse(name)))
    out.push_back(s.ref.str() + (s.insecure ? " insecure" : "") + (s.mirror ? " mirror" : ""));
  return out;
}

const char* kConf = R"(
unqualified-search-registries = ["quay.io", "docker.io"]

[aliases]
"busybox" = "docker.io/library/busybox"
"team/app" = "registry.example.com/team/app"

[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.local:5000"
insecure = true
[[registry.mirror]]
location = "https://mirror2.local/cache/"

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"
insecure = true

[[registry]]
prefix = "example.com"
blocked = true

[[registry]]
prefix = "*.corp.test"
insecure = true

[[registry]]
location = "digest.test"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m.test"
)";

TEST(RegistriesConf, MirrorsComeFirstThenTheRegistry) {
  auto conf = RegistriesConf::Parse(kConf, "test.conf");
  EXPECT_EQ(Sources(conf, "busybox:1.36"),
            (std::vector<std::string>{"mirror.local:5000/library/busybox:1.36 insecure mirror",
                                      "mirror2.local/cache/library/busybox:1.36 mirror",
                                      "docker.io/library/busybox:1.36"}));
}

TEST(RegistriesConf, LocationRewritesThePrefixAndTheLongestPrefixWins) {
  auto conf = RegistriesConf::Parse(kConf, "test.conf");
  EXPECT_EQ(Sources(conf, "example.com/foo/app:1"),
            (std::vector<std::string>{"internal.example.com/bar/app:1 insecure"}));
  // example.com/foobar is not under example.com/foo: the blocked rule applies.
  try {
    conf.PullSources(Reference::Parse("example.com/foobar:1"));
    FAIL() << "blocked registry was allowed";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blocked"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test.conf"), std::string::npos) << msg;
  }
  EXPECT_EQ(Sources(conf, "x.corp.test/a:1"), (std::vector<std::string>{"x.corp.test/a:1 insecure"}));
  EXPECT_EQ(Sources(conf, "other.test/a:1"), (std::vector<std::string>{"other.test/a:1"}));
}

TEST(RegistriesConf, PushGoesToTheLocationNeverAMirror) {
  auto conf = RegistriesConf::Parse(kConf, "test.conf");
  EXPECT_EQ(conf.PushTarget(Reference::Parse("busybox:1")).ref.str(), "docker.io/library/busybox:1");
  EXPECT_FALSE(conf.PushTarget(Reference::Parse("busybox:1")).mirror);
  const PullSource t = conf.PushTarget(Reference::Parse("example.com/foo/app:1"));
  EXPECT_EQ(t.ref.str(), "internal.example.com/bar/app:1");
  EXPECT_TRUE(t.insecure);
  try {
    conf.PushTarget(Reference::Parse("example.com/other:1"));
    FAIL() << "push to a blocked registry was allowed";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("push example.com/other:1: registry example.com is blocked", 0), 0u) << e.what();
  }
}

TEST(RegistriesConf, PullFromMirrorDigestOnly) {
  auto conf = RegistriesConf::Parse(kConf, "test.conf");
  EXPECT_EQ(Sources(conf, "digest.test/a:1"), (std::vector<std::string>{"digest.test/a:1"}));
  const std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(Sources(conf, "digest.test/a@" + digest),
            (std::vector<std::string>{"m.test/a@" + digest + " mirror", "digest.test/a@" + digest}));
}

TEST(RegistriesConf, ShortNamesByAliasThenSearchRegistry) {
  auto conf = RegistriesConf::Parse(kConf, "test.conf");
  EXPECT_EQ(conf.Qualify("busybox"), "docker.io/library/busybox");
  EXPECT_EQ(conf.Qualify("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(conf.Qualify("team/app:2"), "registry.example.com/team/app:2");
  EXPECT_EQ(conf.Qualify("alpine"), "quay.io/alpine");
  EXPECT_EQ(conf.Qualify("localhost/x"), "localhost/x");
  EXPECT_EQ(conf.Qualify("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x:1");
  // With no configuration, docker's meaning stays.
  EXPECT_EQ(RegistriesConf().Qualify("alpine"), "alpine");
}

TEST(RegistriesConf, CommandLineMirrorIsDockersFlag) {
  RegistriesConf conf;
  conf.AddMirror("http://127.0.0.1:5000");
  EXPECT_EQ(Sources(conf, "alpine:3"),
            (std::vector<std::string>{"127.0.0.1:5000/library/alpine:3 insecure mirror", "docker.io/library/alpine:3"}));
  conf.AddMirror("quay.io=https://q.mirror");
  EXPECT_EQ(Sources(conf, "quay.io/a/b:1"), (std::vector<std::string>{"q.mirror/a/b:1 mirror", "quay.io/a/b:1"}));
  EXPECT_THROW(conf.AddMirror("quay.io="), Error);
  EXPECT_THROW(conf.AddMirror(""), Error);
}

TEST(RegistriesConf, VersionOneTables) {
  auto conf = RegistriesConf::Parse(R"(
[registries.search]
registries = ["registry.fedoraproject.org"]
[registries.insecure]
registries = ["insecure.test"]
[registries.block]
registries = ["blocked.test"]
)", "v1.conf");
  EXPECT_EQ(conf.Qualify("fedora"), "registry.fedoraproject.org/fedora");
  EXPECT_EQ(Sources(conf, "insecure.test/a:1"), (std::vector<std::string>{"insecure.test/a:1 insecure"}));
  EXPECT_THROW(conf.PullSources(Reference::Parse("blocked.test/a:1")), Error);
}

TEST(RegistriesConf, ErrorsNameTheFileAndLine) {
  try {
    RegistriesConf::Parse("unqualified-search-registries = [\n\"a\",\n= oops\n", "/etc/x.conf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/etc/x.conf:3"), std::string::npos) << e.what();
  }
  try {
    RegistriesConf::Parse("[[registry]]\nprefix = \"a.test\"\ninsecure = \"yes\"\n", "y.conf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("y.conf:3: registries.conf: insecure must be true or false"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(RegistriesConf::Parse("[[registry]]\ninsecure = true\n", "z.conf"), Error);
}

}  // namespace
}  // namespace kiln::oci
