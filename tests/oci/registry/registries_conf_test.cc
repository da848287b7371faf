#include "oci/registry/registries_conf.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

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

TEST(RegistriesConf, ShortNameModeDecidesAmbiguousNames) {
  // Two search registries: permissive (the default) and disabled try both in order.
  const std::string two = "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n";
  EXPECT_EQ(RegistriesConf::Parse(two, "a.conf").Candidates("alpine:3"),
            (std::vector<std::string>{"quay.io/alpine:3", "docker.io/alpine:3"}));
  EXPECT_EQ(RegistriesConf::Parse(two + "short-name-mode = \"disabled\"\n", "a.conf").Candidates("alpine").size(), 2u);
  // Enforcing: kiln cannot prompt, so an ambiguous name is an error saying how to fix it...
  auto enforcing = RegistriesConf::Parse(two + "short-name-mode = \"enforcing\"\n[aliases]\n\"app\" = \"quay.io/team/app\"\n",
                                         "e.conf");
  try {
    enforcing.Candidates("alpine");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short name alpine is ambiguous"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("quay.io/alpine"), std::string::npos) << e.what();
  }
  // ...but an alias, a qualified name or a single search registry is not ambiguous.
  EXPECT_EQ(enforcing.Candidates("app:1"), std::vector<std::string>{"quay.io/team/app:1"});
  EXPECT_EQ(enforcing.Candidates("quay.io/x/y"), std::vector<std::string>{"quay.io/x/y"});
  EXPECT_EQ(RegistriesConf::Parse("unqualified-search-registries = [\"r.test\"]\nshort-name-mode = \"enforcing\"\n", "o.conf")
                .Candidates("alpine"),
            std::vector<std::string>{"r.test/alpine"});
  EXPECT_THROW(RegistriesConf::Parse("short-name-mode = \"strict\"\n", "bad.conf"), Error);
}

TEST(RegistriesConf, DropInsMergeOverTheMainFile) {
  auto conf = RegistriesConf::Parse(kConf, "main.conf");
  conf.Merge(RegistriesConf::Parse(R"(
unqualified-search-registries = ["drop.test"]
short-name-mode = "enforcing"
[aliases]
"busybox" = ""
"new" = "quay.io/new/img"
[[registry]]
prefix = "example.com"
insecure = true
)", "50-drop.conf", true));
  EXPECT_EQ(conf.short_name_mode(), ShortNameMode::kEnforcing);
  EXPECT_EQ(conf.Candidates("busybox"), std::vector<std::string>{"drop.test/busybox"});  // the alias was removed
  EXPECT_EQ(conf.Qualify("team/app"), "registry.example.com/team/app");                  // others stay
  EXPECT_EQ(conf.Qualify("new:2"), "quay.io/new/img:2");
  // The [[registry]] with the same prefix is replaced whole: no longer blocked.
  EXPECT_EQ(Sources(conf, "example.com/x:1"), (std::vector<std::string>{"example.com/x:1 insecure"}));
  // A drop-in without unqualified-search-registries keeps the list it found.
  conf.Merge(RegistriesConf::Parse("[aliases]\n\"z\" = \"quay.io/z\"\n", "60.conf", true));
  EXPECT_EQ(conf.search(), std::vector<std::string>{"drop.test"});
  // Drop-ins must be version 2.
  EXPECT_THROW(RegistriesConf::Parse("[registries.search]\nregistries = [\"a.test\"]\n", "v1.conf", true), Error);
}

TEST(RegistriesConf, LoadReadsTheUsersDropInsInOrder) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kiln-regconf-" + std::to_string(::getpid()));
  fs::create_directories(dir / "containers/registries.conf.d");
  auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p) << text; };
  write(dir / "main.conf", "unqualified-search-registries = [\"main.test\"]\n");
  write(dir / "containers/registries.conf.d/20-b.conf", "unqualified-search-registries = [\"second.test\"]\n");
  write(dir / "containers/registries.conf.d/10-a.conf",
        "unqualified-search-registries = [\"first.test\"]\n[aliases]\n\"kiln-test-alias\" = \"a.test/x\"\n");
  write(dir / "containers/registries.conf.d/30-c.conf.disabled", "unqualified-search-registries = [\"ignored.test\"]\n");
  const char* saved_xdg = std::getenv("XDG_CONFIG_HOME");
  const std::string old_xdg = saved_xdg ? saved_xdg : "";
  ::setenv("XDG_CONFIG_HOME", dir.c_str(), 1);
  ::setenv("CONTAINERS_REGISTRIES_CONF", (dir / "main.conf").c_str(), 1);
  const auto dirs = RegistriesConf::DropInDirs();
  const auto conf = RegistriesConf::Load();
  ::unsetenv("CONTAINERS_REGISTRIES_CONF");
  if (saved_xdg) ::setenv("XDG_CONFIG_HOME", old_xdg.c_str(), 1);
  else ::unsetenv("XDG_CONFIG_HOME");
  fs::remove_all(dir);
  EXPECT_EQ(dirs, (std::vector<fs::path>{"/etc/containers/registries.conf.d", dir / "containers/registries.conf.d"}));
  EXPECT_EQ(conf.search(), std::vector<std::string>{"second.test"});  // 20-b after 10-a; .disabled is not a .conf
  EXPECT_EQ(conf.Qualify("kiln-test-alias"), "a.test/x");
}

}  // namespace
}  // namespace kiln::oci
