// The finalize decisions over a small image in a temp store: which setuid
// bits go (a fix-up layer), which stay, and when secrets fail the build.
#include "builder/finalize.h"

#include <gtest/gtest.h>

#include <sstream>

#include "oci/image.h"
#include "oci/store/store.h"
#include "tests/oci/supply/supply_test_util.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::finalize_test {
namespace {

using oci::testing::Dir;
using oci::testing::FakeEntry;
using oci::testing::File;
using oci::testing::TempDir;
using oci::testing::WriteTar;

// Assembled at run time so this source file is not itself a "secret".
std::string GithubToken() { return std::string("gh") + "p_" + "x7Kq2LmN9pR4sT6vW8yZ1bC3dF5gH0jJ" + "aB1c"; }

class FinalizeTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::make_unique<oci::Store>(tmp_.path() / "store"); }

  // A one-layer image holding `entries`.
  oci::Descriptor Image(const std::vector<FakeEntry>& entries) {
    const auto tar = tmp_.path() / ("layer" + std::to_string(++n_) + ".tar.gz");
    WriteTar(tar, entries);
    oci::Manifest m;
    oci::ImageConfig c;
    const oci::Descriptor layer = store_->ImportBlob(tar, oci::media::kOciLayerGzip);
    m.layers.push_back(layer);
    c.diff_ids.push_back(layer.digest);  // not the real diff_id; the passes read blobs
    c.history.push_back({"1970-01-01T00:00:00Z", "COPY . / # buildkit", "", "", false});
    m.config = store_->PutBlob(oci::ToJson(c), oci::media::kOciConfig);
    return store_->PutBlob(oci::ToJson(m), oci::media::kOciManifest);
  }
  static std::vector<FakeEntry> Setuid() {
    return {Dir("usr"), Dir("usr/bin"), File("usr/bin/su", "SU", 04755), File("usr/bin/ls", "LS", 0755)};
  }
  static std::vector<FakeEntry> WithSecret() {
    return {Dir("etc"), File("etc/app.conf", "token = " + GithubToken() + "\n")};
  }
  static BuildOptions Opts(bool strip, bool scan) {
    BuildOptions o;
    o.strip_setuid = strip;
    o.secret_scan = scan;
    return o;
  }
  FinalizeResult Finalize(const oci::Descriptor& image, const BuildOptions& opts) {
    FinalizeInput in;
    in.manifest = image;
    in.created = "1970-01-01T00:00:00Z";
    log_.str("");
    return FinalizeImage(*store_, opts, in, log_);
  }
  oci::Manifest Read(const oci::Descriptor& d) { return oci::ParseManifest(store_->ReadBlob(d.digest)); }

  TempDir tmp_;
  std::unique_ptr<oci::Store> store_;
  std::ostringstream log_;
  int n_ = 0;
};

TEST_F(FinalizeTest, SetuidBitsAreStrippedInAFixUpLayer) {
  const oci::Descriptor image = Image(Setuid());
  const FinalizeResult r = Finalize(image, Opts(true, false));
  EXPECT_NE(r.manifest.digest, image.digest);
  const oci::Manifest m = Read(r.manifest);
  ASSERT_EQ(m.layers.size(), 2u) << "the built layer stays, one layer on top";
  EXPECT_EQ(m.layers[0].digest, Read(image).layers[0].digest);
  EXPECT_EQ(r.config_digest, m.config.digest);
  EXPECT_EQ(r.size, m.config.size + r.manifest.size + m.layers[0].size + m.layers[1].size);
  const oci::ImageConfig c = oci::ParseImageConfig(store_->ReadBlob(m.config.digest));
  EXPECT_EQ(c.history.back().created_by, "kiln: strip setuid/setgid bits");
  EXPECT_NE(log_.str().find("kiln: stripped setuid/setgid: /usr/bin/su (4755 -> 0755)"), std::string::npos)
      << log_.str();
  EXPECT_EQ(log_.str().find("/usr/bin/ls"), std::string::npos) << "plain files are not reported";
}

TEST_F(FinalizeTest, SecondRunGivesTheSameImageAndReport) {
  const oci::Descriptor image = Image(Setuid());
  const FinalizeResult a = Finalize(image, Opts(true, false));
  const std::string said = log_.str();
  const FinalizeResult b = Finalize(image, Opts(true, false));
  EXPECT_EQ(b.manifest.digest, a.manifest.digest);
  EXPECT_EQ(log_.str(), said);
}

TEST_F(FinalizeTest, NothingToStripOrStripOffKeepsTheImage) {
  const oci::Descriptor plain = Image({Dir("bin"), File("bin/app", "A", 0755)});
  EXPECT_EQ(Finalize(plain, Opts(true, false)).manifest.digest, plain.digest);
  EXPECT_EQ(log_.str(), "");
  const oci::Descriptor setuid = Image(Setuid());
  EXPECT_EQ(Finalize(setuid, Opts(false, false)).manifest.digest, setuid.digest) << "--strip=off";
  EXPECT_EQ(log_.str(), "");
}

TEST_F(FinalizeTest, KeepSetuidAllowlistsAPath) {
  const oci::Descriptor image = Image(Setuid());
  BuildOptions o = Opts(true, false);
  o.keep_setuid = {"/usr/bin/su"};
  EXPECT_EQ(Finalize(image, o).manifest.digest, image.digest);
  EXPECT_NE(log_.str().find("kiln: setuid/setgid kept (allowlisted): /usr/bin/su"), std::string::npos) << log_.str();
}

TEST_F(FinalizeTest, SecretFailsTheBuildSayingWhereAndWhatToDo) {
  const oci::Descriptor image = Image(WithSecret());
  try {
    Finalize(image, Opts(false, true));
    FAIL() << "a GitHub token passed the scan";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("secret scan: ", 0), 0u) << what;
    EXPECT_NE(what.find(" secret(s) in the image"), std::string::npos) << what;
    EXPECT_NE(what.find("--allow-secret"), std::string::npos) << what;
  }
  EXPECT_NE(log_.str().find("kiln: secret: "), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("etc/app.conf"), std::string::npos) << log_.str();
  EXPECT_EQ(log_.str().find(GithubToken()), std::string::npos) << "the finding must not print the secret";
}

TEST_F(FinalizeTest, AllowedOrUnscannedSecretsPass) {
  const oci::Descriptor image = Image(WithSecret());
  BuildOptions allowed = Opts(false, true);
  allowed.allow_secrets = {"/etc/app.conf"};
  EXPECT_EQ(Finalize(image, allowed).manifest.digest, image.digest);
  EXPECT_EQ(Finalize(image, Opts(false, false)).manifest.digest, image.digest) << "--secret-scan=off";
}

TEST_F(FinalizeTest, SecretAndSetuidTogetherFailOnTheSecret) {
  std::vector<FakeEntry> both = Setuid();
  for (auto& e : WithSecret()) both.push_back(e);
  EXPECT_THROW(Finalize(Image(both), Opts(true, true)), std::runtime_error);
}

TEST_F(FinalizeTest, DockerFormatConvertsTheManifest) {
  const oci::Descriptor image = Image({Dir("bin"), File("bin/app", "A", 0755)});
  BuildOptions o = Opts(true, true);
  o.format = "docker";
  const FinalizeResult r = Finalize(image, o);
  EXPECT_EQ(r.manifest.media_type, oci::media::kDockerManifest);
  EXPECT_NE(r.manifest.digest, image.digest);
}

}  // namespace
}  // namespace kiln::builder::finalize_test
