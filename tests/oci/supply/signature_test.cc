#include "oci/supply/signature.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "oci/error.h"
#include "oci/registry/http_client.h"
#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::filesystem::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

const Digest kDigest = Digest::Parse("sha256:" + std::string(64, 'c'));

TEST(Signature, PayloadIsCosignSimpleSigning) {
  std::string p = SimpleSigningPayload("localhost:5000/app", kDigest);
  EXPECT_EQ(p, R"({"critical":{"identity":{"docker-reference":"localhost:5000/app"},"image":{"docker-manifest-digest":"sha256:)" +
                   std::string(64, 'c') + R"("},"type":"cosign container image signature"},"optional":null})");
  EXPECT_NO_THROW(CheckSimpleSigningPayload(p, kDigest, "localhost:5000/app"));
  EXPECT_THROW(CheckSimpleSigningPayload(p, Digest::Parse("sha256:" + std::string(64, 'd')), ""), Error);
  EXPECT_THROW(CheckSimpleSigningPayload(p, kDigest, "localhost:5000/other"), Error);
  EXPECT_THROW(CheckSimpleSigningPayload("{}", kDigest, ""), Error);
}

TEST(Signature, Base64RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  EXPECT_THROW(Base64Decode("abc"), Error);
}

TEST(Signature, KeyGenSignVerifyAndOpenSslAgrees) {
  testing::TempDir tmp;
  auto key = tmp.path() / "cosign.key", pub = tmp.path() / "cosign.pub";
  GenerateKeyPair(key, pub, "hunter2");
  struct stat st{};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(Slurp(key).find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(Slurp(pub).find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_THROW(GenerateKeyPair(key, pub, "x"), Error) << "must not overwrite";
  EXPECT_THROW(GenerateKeyPair(tmp.path() / "k2", tmp.path() / "p2", ""), Error) << "empty password";

  std::string payload = SimpleSigningPayload("localhost:5000/app", kDigest);
  std::string sig = SignPayload(payload, key, "hunter2");
  EXPECT_NO_THROW(VerifyPayloadSignature(payload, sig, pub));
  EXPECT_THROW(SignPayload(payload, key, "wrong"), Error);

  std::string tampered = payload;
  tampered[tampered.find("app")] = 'b';
  EXPECT_THROW(VerifyPayloadSignature(tampered, sig, pub), Error);
  auto other_key = tmp.path() / "o.key", other_pub = tmp.path() / "o.pub";
  GenerateKeyPair(other_key, other_pub, "pw");
  EXPECT_THROW(VerifyPayloadSignature(payload, sig, other_pub), Error);

  // The same signature checks out with the openssl CLI.
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl CLI not installed";
  Spit(tmp.path() / "payload", payload);
  Spit(tmp.path() / "sig.der", Base64Decode(sig));
  Spit(tmp.path() / "tampered", tampered);
  std::string base = "openssl dgst -sha256 -verify " + pub.string() + " -signature " + (tmp.path() / "sig.der").string() + " ";
  EXPECT_EQ(std::system((base + (tmp.path() / "payload").string() + " >/dev/null 2>&1").c_str()), 0);
  EXPECT_NE(std::system((base + (tmp.path() / "tampered").string() + " >/dev/null 2>&1").c_str()), 0);
  // And openssl can decrypt the private key with the password (PKCS#8 + AES-256).
  EXPECT_EQ(std::system(("openssl pkey -in " + key.string() + " -passin pass:hunter2 -noout 2>/dev/null").c_str()), 0);
  EXPECT_NE(std::system(("openssl pkey -in " + key.string() + " -passin pass:nope -noout 2>/dev/null").c_str()), 0);
}

TEST(Signature, RejectsNonP256Keys) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "openssl CLI not installed";
  testing::TempDir tmp;
  auto key = tmp.path() / "rsa.key";
  ASSERT_EQ(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -aes256 -pass pass:pw -out " +
                         key.string() + " 2>/dev/null").c_str()), 0);
  try {
    SignPayload("x", key, "pw");
    FAIL() << "RSA key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("P-256"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::oci
