#include "oci/registry/auth_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "oci/registry/http_client.h"
#include "tests/oci/registry/registry_fixture.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;

using kiln::testing::ReadText;
using kiln::testing::WriteText;

// Sets environment variables for one test and restores them afterwards.
class EnvGuard {
 public:
  void Set(const char* name, const std::string& value) {
    Save(name);
    ::setenv(name, value.c_str(), 1);
  }
  void Unset(const char* name) {
    Save(name);
    ::unsetenv(name);
  }
  ~EnvGuard() {
    for (auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  void Save(const char* name) {
    if (saved_.count(name)) return;
    const char* v = std::getenv(name);
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

class AuthFileTest : public kiln::testing::TempDirFixture {};

std::string Entry(const std::string& user, const std::string& pass) {
  return "{\"auth\":\"" + Base64Encode(user + ":" + pass) + "\"}";
}

TEST_F(AuthFileTest, ReadsAuthsWithLegacyAndNamespacedKeys) {
  auto file = dir_ / "auth.json";
  WriteText(file, "{\"auths\":{"
                  "\"https://index.docker.io/v1/\":" + Entry("hub", "hubpw") + ","
                  "\"quay.io\":" + Entry("q", "qpw") + ","
                  "\"quay.io/team\":" + Entry("team", "teampw") + ","
                  "\"http://old.example:5000/v2/\":" + Entry("old", "oldpw") + "}}");
  auto hub = LookupCredentialsIn(file, "docker.io", "library/busybox");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "hubpw");
  auto team = LookupCredentialsIn(file, "quay.io", "team/app");
  ASSERT_TRUE(team);
  EXPECT_EQ(team->username, "team");  // longest key wins
  auto other = LookupCredentialsIn(file, "quay.io", "teamx/app");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->username, "q");  // "quay.io/team" is not a prefix of "quay.io/teamx"
  auto old = LookupCredentialsIn(file, "old.example:5000", "a");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->password, "oldpw");
  EXPECT_FALSE(LookupCredentialsIn(file, "ghcr.io", "x"));
  EXPECT_FALSE(LookupCredentialsIn(dir_ / "missing.json", "quay.io", "x"));
}

TEST_F(AuthFileTest, MalformedFilesAreReportedWithTheirPath) {
  auto file = dir_ / "bad.json";
  WriteText(file, "{\"auths\": {");
  try {
    LookupCredentialsIn(file, "quay.io", "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  WriteText(file, "{\"auths\": {\"quay.io\": {\"auth\": \"" + Base64Encode("nocolon") + "\"}}}");
  EXPECT_THROW(LookupCredentialsIn(file, "quay.io", ""), Error);
}

TEST_F(AuthFileTest, SearchOrderFollowsEnvironment) {
  EnvGuard env;
  env.Set("HOME", (dir_ / "home").string());
  env.Unset("DOCKER_CONFIG");
  env.Unset("XDG_CONFIG_HOME");
  env.Set("XDG_RUNTIME_DIR", (dir_ / "run").string());
  env.Unset("REGISTRY_AUTH_FILE");
  fs::create_directories(dir_ / "home/.docker");
  fs::create_directories(dir_ / "run/containers");
  WriteText(dir_ / "home/.docker/config.json", "{\"auths\":{\"r.example\":" + Entry("docker", "d") + "}}");
  auto c = LookupCredentials("r.example", "x", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "docker");

  WriteText(dir_ / "run/containers/auth.json", "{\"auths\":{\"r.example\":" + Entry("runtime", "r") + "}}");
  EXPECT_EQ(LookupCredentials("r.example", "x", "")->username, "runtime");
  EXPECT_EQ(AuthFileForWrite(""), dir_ / "run/containers/auth.json");

  WriteText(dir_ / "env.json", "{\"auths\":{\"r.example\":" + Entry("envfile", "e") + "}}");
  env.Set("REGISTRY_AUTH_FILE", (dir_ / "env.json").string());
  EXPECT_EQ(LookupCredentials("r.example", "x", "")->username, "envfile");
  EXPECT_EQ(AuthFileForWrite(""), dir_ / "env.json");

  // An explicit file is the only one consulted.
  WriteText(dir_ / "explicit.json", "{}");
  EXPECT_FALSE(LookupCredentials("r.example", "x", (dir_ / "explicit.json").string()));
}

TEST_F(AuthFileTest, StoreAndRemoveKeepOtherEntries) {
  auto file = dir_ / "sub/auth.json";
  StoreCredentials(file, "a.example", {"alice", "pw:with:colons", ""});
  StoreCredentials(file, "b.example", {"bob", "pw2", ""});
  StoreCredentials(file, "a.example", {"alice2", "new", ""});
  struct stat st{};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto a = LookupCredentialsIn(file, "a.example", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->username, "alice2");
  EXPECT_EQ(a->password, "new");
  EXPECT_EQ(LookupCredentialsIn(file, "b.example", "")->password, "pw2");
  auto j = nlohmann::json::parse(ReadText(file));
  EXPECT_EQ(j["auths"].size(), 2u);

  EXPECT_TRUE(RemoveCredentials(file, "a.example"));
  EXPECT_FALSE(RemoveCredentials(file, "a.example"));
  EXPECT_FALSE(LookupCredentialsIn(file, "a.example", ""));
  EXPECT_TRUE(LookupCredentialsIn(file, "b.example", ""));
}

TEST_F(AuthFileTest, CredentialHelpersSpeakTheDockerProtocol) {
  EnvGuard env;
  fs::create_directories(dir_ / "bin");
  // A real helper program: reads the server URL on stdin, answers JSON.
  WriteText(dir_ / "bin/docker-credential-kilntest",
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r url\n"
            "case \"$url\" in\n"
            "  helped.example) echo '{\"ServerURL\":\"helped.example\",\"Username\":\"hu\",\"Secret\":\"hs\"}' ;;\n"
            "  https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"idt\"}' ;;\n"
            "  broken.example) echo 'helper exploded' >&2; echo 'helper exploded'; exit 1 ;;\n"
            "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
            "esac\n");
  fs::permissions(dir_ / "bin/docker-credential-kilntest", fs::perms::owner_all);
  env.Set("PATH", (dir_ / "bin").string() + ":" + std::getenv("PATH"));

  auto file = dir_ / "config.json";
  WriteText(file, "{\"credHelpers\":{\"helped.example\":\"kilntest\",\"broken.example\":\"kilntest\"},"
                  "\"credsStore\":\"kilntest\",\"auths\":{\"inline.example\":" + Entry("in", "line") + "}}");
  auto h = LookupCredentialsIn(file, "helped.example", "");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->username, "hu");
  EXPECT_EQ(h->password, "hs");
  // docker.io goes through credsStore with docker's URL; "<token>" means an identity token.
  auto hub = LookupCredentialsIn(file, "docker.io", "library/x");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->identity_token, "idt");
  EXPECT_EQ(hub->username, "");
  EXPECT_EQ(LookupCredentialsIn(file, "inline.example", "")->username, "in");
  EXPECT_FALSE(LookupCredentialsIn(file, "unknown.example", ""));
  try {
    LookupCredentialsIn(file, "broken.example", "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("helper exploded"), std::string::npos) << e.what();
  }
  EXPECT_THROW(RunCredentialHelper("does-not-exist-kiln", "x"), Error);
}

TEST(Base64, RoundTrips) {
  for (std::string s : {std::string(), std::string("a"), std::string("ab"), std::string("abc"), std::string("user:p@ss:word"), std::string("\0\xff", 2)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_THROW(Base64Decode("abc"), Error);
}

}  // namespace
}  // namespace kiln::oci
