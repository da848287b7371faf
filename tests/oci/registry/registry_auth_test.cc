#include "oci/registry/registry_auth.h"

#include <gtest/gtest.h>

#include <mutex>

#include "oci/digest.h"
#include "oci/error.h"
#include "oci/registry/registry.h"
#include "tests/oci/registry/registry_fixture.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;

using kiln::testing::ScriptedServer;

TEST(WwwAuthenticate, ParsesBearerAndBasic) {
  auto c = ParseWwwAuthenticate(
      {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
       "scope=\"repository:library/busybox:pull\",error=\"insufficient_scope\""});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c[0].params["service"], "registry.docker.io");
  EXPECT_EQ(c[0].params["scope"], "repository:library/busybox:pull");
  EXPECT_EQ(c[0].params["error"], "insufficient_scope");

  auto two = ParseWwwAuthenticate({"Basic realm=\"kiln \\\"test\\\"\", Bearer realm=x, service = y", "Negotiate"});
  ASSERT_EQ(two.size(), 3u);
  EXPECT_EQ(two[0].scheme, "basic");
  EXPECT_EQ(two[0].params["realm"], "kiln \"test\"");
  EXPECT_EQ(two[1].scheme, "bearer");
  EXPECT_EQ(two[1].params["realm"], "x");
  EXPECT_EQ(two[1].params["service"], "y");
  EXPECT_EQ(two[2].scheme, "negotiate");
  EXPECT_TRUE(ParseWwwAuthenticate({""}).empty());
  EXPECT_EQ(RepositoryScope("a/b", "pull,push"), "repository:a/b:pull,push");
}

// A registry that wants bearer tokens from its own token endpoint, accepting
// only user "u" / password "p", and granting exactly the scopes asked for.
class BearerRegistry {
 public:
  BearerRegistry()
      : server_([this](const std::string& head, const std::string&) { return Handle(head); }) {}
  std::string host() const { return server_.host(); }
  std::vector<std::string> token_requests() {
    std::lock_guard lock(mu_);
    return token_requests_;
  }
  const std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]})";

 private:
  std::string Handle(const std::string& head) {
    std::string line = head.substr(0, head.find("\r\n"));
    std::string path = line.substr(line.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    std::string challenge = "WWW-Authenticate: Bearer realm=\"http://" + host() + "/token\",service=\"kiln-test\"";
    if (path.starts_with("/token")) {
      std::lock_guard lock(mu_);
      token_requests_.push_back(path);
      if (head.find("Authorization: Basic " + Base64Encode("u:p")) == std::string::npos) {
        return ScriptedServer::Response(401, "Unauthorized", R"({"details":"bad credentials"})");
      }
      return ScriptedServer::Response(200, "OK", R"({"token":"tok-123","expires_in":300})");
    }
    if (head.find("Authorization: Bearer tok-123") == std::string::npos) {
      return ScriptedServer::Response(401, "Unauthorized",
                                      R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                                      {challenge});
    }
    if (path == "/v2/") return ScriptedServer::Response(200, "OK", "{}");
    if (path == "/v2/team/app/manifests/v1") {
      return ScriptedServer::Response(200, "OK", manifest,
                                      {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
    }
    return ScriptedServer::Response(404, "Not Found", R"({"errors":[{"code":"NOT_FOUND","message":"nope"}]})");
  }

  std::mutex mu_;
  std::vector<std::string> token_requests_;
  ScriptedServer server_;
};

class RegistryAuthTest : public kiln::testing::TempDirFixture {};

TEST_F(RegistryAuthTest, BearerTokenWithScopeAndBasicCredentials) {
  BearerRegistry reg;
  auto auth = dir_ / "auth.json";
  StoreCredentials(auth, reg.host(), {"u", "p", ""});
  RegistryOptions opts;
  opts.auth_file = auth.string();
  RegistryClient client(opts);
  Descriptor d;
  std::string body = client.GetManifest(Reference::Parse(reg.host() + "/team/app:v1"), &d);
  EXPECT_EQ(body, reg.manifest);
  EXPECT_EQ(d.media_type, media::kOciManifest);
  EXPECT_EQ(d.digest, Sha256Of(reg.manifest));
  auto reqs = reg.token_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_NE(reqs[0].find("service=kiln-test"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("scope=repository%3Ateam%2Fapp%3Apull"), std::string::npos) << reqs[0];

  // The token is cached per scope: a second request fetches none.
  client.GetManifest(Reference::Parse(reg.host() + "/team/app:v1"), nullptr);
  EXPECT_EQ(reg.token_requests().size(), 1u);
}

TEST_F(RegistryAuthTest, BearerWithWrongPasswordSaysSo) {
  BearerRegistry reg;
  auto auth = dir_ / "auth.json";
  StoreCredentials(auth, reg.host(), {"u", "wrong", ""});
  RegistryOptions opts;
  opts.auth_file = auth.string();
  RegistryClient client(opts);
  try {
    client.GetManifest(Reference::Parse(reg.host() + "/team/app:v1"), nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("credentials for " + reg.host() + " from " + auth.string() + " were rejected"),
              std::string::npos)
        << msg;
  }
}

TEST_F(RegistryAuthTest, LoginVerifiesThenWritesAndLogoutRemoves) {
  BearerRegistry reg;
  RegistryOptions opts;
  opts.auth_file = (dir_ / "login.json").string();
  EXPECT_THROW(Login(reg.host(), "u", "bad", opts), Error);
  EXPECT_FALSE(fs::exists(opts.auth_file));
  Login(reg.host(), "u", "p", opts);
  auto c = LookupCredentialsIn(opts.auth_file, reg.host(), "");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "u");
  EXPECT_EQ(c->password, "p");
  Logout(reg.host(), opts);
  EXPECT_FALSE(LookupCredentialsIn(opts.auth_file, reg.host(), ""));
  EXPECT_THROW(Logout(reg.host(), opts), Error);
}

}  // namespace
}  // namespace kiln::oci
