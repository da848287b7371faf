#include "oci/supply/supply_chain.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <fstream>

#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/layer/layer.h"
#include "oci/supply/referrers.h"
#include "oci/supply/signature.h"
#include "tests/oci/supply/sbom_fixture.h"
#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci {
namespace {

using testing::File;

// An image in a real Store from layer tarballs.
Descriptor PutImage(Store& store, const std::vector<LayerBlob>& blobs, const std::vector<std::string>& created_by) {
  Manifest m;
  ImageConfig c;
  for (size_t i = 0; i < blobs.size(); ++i) {
    Descriptor d = store.ImportBlob(blobs[i].path, media::kOciLayerGzip);
    m.layers.push_back(d);
    c.diff_ids.push_back(d.digest);  // not the real diff_id; unused by these readers
    c.history.push_back({"1970-01-01T00:00:00Z", created_by[i], "", "", false});
  }
  m.config = store.PutBlob(ToJson(c), media::kOciConfig);
  return store.PutBlob(ToJson(m), media::kOciManifest);
}

struct SupplyChain : ::testing::Test {
  testing::TempDir tmp;
  std::unique_ptr<Store> store;
  Descriptor image;
  void SetUp() override {
    store = std::make_unique<Store>(tmp.path() / "store");
    auto layers = testing::SbomImageLayers(tmp.path());
    testing::WriteTar(tmp.path() / "suid.tar.gz",
                      {File("usr/bin/passwd", "PASSWD", 04755), File("root/.git-credentials", "https://me:tok3nValue1@github.com\n")});
    layers.push_back({tmp.path() / "suid.tar.gz", ""});
    image = PutImage(*store, layers, {"ADD base", "COPY app", "RUN rm", "RUN install passwd"});
  }
};

TEST_F(SupplyChain, SbomOfStoredImage) {
  std::string text = GenerateSbom(*store, image, SbomFormat::kSpdxJson, {"2024-01-01T00:00:00Z", "0.1.0"}, "app:1");
  auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["packages"][0]["versionInfo"], image.digest.str());
  EXPECT_NE(text.find("pkg:pypi/requests@2.31.0"), std::string::npos);
  auto cdx = nlohmann::json::parse(GenerateSbom(*store, image, SbomFormat::kCycloneDxJson, {}, "app:1"));
  EXPECT_EQ(cdx["specVersion"], "1.5");
}

TEST_F(SupplyChain, SecretsNameLayerAndHistory) {
  auto findings = ScanImageForSecrets(*store, image);
  bool creds = false;
  for (const auto& f : findings)
    if (f.path == "/root/.git-credentials" && f.rule_id == "git-credentials-file") {
      creds = true;
      EXPECT_EQ(f.layer_index, 3);
      EXPECT_EQ(f.created_by, "RUN install passwd");
      EXPECT_TRUE(f.layer_digest.starts_with("sha256:"));
    }
  EXPECT_TRUE(creds);
}

// A layer unpacked in the store is scanned from its tree (no inflating),
// with the same findings as from its blob.
TEST_F(SupplyChain, SecretScanReadsUnpackedLayersLikeTheirBlobs) {
  const auto from_blobs = ScanImageForSecrets(*store, image);
  const LoadedImage img = LoadImage(*store, image);
  for (size_t i = 0; i < img.layers.size(); ++i) {
    auto dir = tmp.path() / ("unpacked" + std::to_string(i));
    std::filesystem::create_directories(dir);
    ExtractOptions eo;
    eo.overlay_form = true;
    ExtractLayer(img.layers[i].path, dir, eo);
    store->AdoptLayerDir(dir, img.config.diff_ids[i]);
    store->RecordDiffId(img.manifest.layers[i].digest, img.config.diff_ids[i]);  // as LayerCache does
    std::ofstream(img.layers[i].path, std::ios::trunc) << "not a layer";  // so only the tree can be read
  }
  const auto from_trees = ScanImageForSecrets(*store, image);
  ASSERT_EQ(from_trees.size(), from_blobs.size());
  for (size_t i = 0; i < from_blobs.size(); ++i) {
    EXPECT_EQ(from_trees[i].path, from_blobs[i].path);
    EXPECT_EQ(from_trees[i].rule_id, from_blobs[i].rule_id);
    EXPECT_EQ(from_trees[i].layer_index, from_blobs[i].layer_index);
    EXPECT_EQ(from_trees[i].line, from_blobs[i].line);
  }
  EXPECT_FALSE(from_blobs.empty());
}

// A config's diff_id alone does not make an unpacked dir stand for a blob:
// a forged image claiming another image's diff_id is scanned from its own blob.
TEST_F(SupplyChain, UnpackedDirIsUsedOnlyForTheBlobSeenToUnpackToIt) {
  const LoadedImage img = LoadImage(*store, image);
  auto dir = tmp.path() / "unpacked-other";
  std::filesystem::create_directories(dir);
  store->AdoptLayerDir(dir, img.config.diff_ids.at(0));
  EXPECT_TRUE(LoadImage(*store, image).layers.at(0).unpacked.empty());
  store->RecordDiffId(img.manifest.layers.at(0).digest, img.config.diff_ids.at(0));
  EXPECT_EQ(LoadImage(*store, image).layers.at(0).unpacked, store->LayerDir(img.config.diff_ids.at(0)));
}

TEST_F(SupplyChain, StripAppendsFixLayer) {
  auto r = StripSetuid(*store, image, {});
  ASSERT_TRUE(r.layer);
  ASSERT_EQ(r.report.changed.size(), 1u);
  EXPECT_EQ(r.report.changed[0].path, "/usr/bin/passwd");
  Descriptor fixed = AppendLayer(*store, image, *r.layer, "kiln: strip setuid/setgid bits", "1970-01-01T00:00:00Z");
  LoadedImage img = LoadImage(*store, fixed);
  EXPECT_EQ(img.layers.size(), 5u);
  EXPECT_EQ(img.config.history.back().created_by, "kiln: strip setuid/setgid bits");
  auto again = StripSetuid(*store, fixed, {});
  EXPECT_TRUE(again.report.changed.empty());
  EXPECT_FALSE(again.layer);
}

// When every layer is unpacked in the store (as a build leaves them) the
// strip pass looks at those trees first: with no setuid/setgid bit in them it
// is done without reading a blob (here the blob is garbage to prove it);
// with one, it reads the layers as before.
TEST_F(SupplyChain, StripReadsNoBlobWhenUnpackedLayersHaveNoSetBits) {
  auto layer_tar = tmp.path() / "plain.tar.gz";
  testing::WriteTar(layer_tar, {File("bin/tool", "T", 0755)});
  Descriptor plain = PutImage(*store, {{layer_tar, ""}}, {"COPY tool"});
  const LoadedImage img = LoadImage(*store, plain);
  const Digest diff_id = img.config.diff_ids.at(0);
  auto unpacked = tmp.path() / "unpacked";
  std::filesystem::create_directories(unpacked / "bin");
  std::ofstream(unpacked / "bin/tool") << "T";
  ::chmod((unpacked / "bin/tool").c_str(), 0755);
  store->AdoptLayerDir(unpacked, diff_id);
  store->RecordDiffId(img.manifest.layers.at(0).digest, diff_id);
  std::ofstream(store->BlobPath(img.manifest.layers.at(0).digest), std::ios::trunc) << "not a layer";

  auto r = StripSetuid(*store, plain, {});
  EXPECT_FALSE(r.layer);
  EXPECT_TRUE(r.report.empty());

  ::chmod((store->LayerDir(diff_id) / "bin/tool").c_str(), 04755);
  EXPECT_THROW(StripSetuid(*store, plain, {}), std::exception) << "a set bit: the layers are read";
  StripOptions shells;
  shells.strip_shells = {"sh"};
  ::chmod((store->LayerDir(diff_id) / "bin/tool").c_str(), 0755);
  EXPECT_THROW(StripSetuid(*store, plain, shells), std::exception) << "--strip-shells reads the layers";
}

TEST_F(SupplyChain, AttachSbomAndProvenanceAsReferrers) {
  std::string repo = "localhost:5000/app";
  std::string sbom = GenerateSbom(*store, image, SbomFormat::kSpdxJson, {}, repo);
  Descriptor a = AttachSbom(*store, repo, image, SbomFormat::kSpdxJson, sbom, "2024-01-01T00:00:00Z");
  ProvenanceInput in;
  in.image_manifest = image.digest;
  Descriptor p = AttachProvenance(*store, repo, image, ProvenanceStatement(in), "2024-01-01T00:00:00Z");
  // Re-attaching an SBOM replaces the old one in the index.
  AttachSbom(*store, repo, image, SbomFormat::kSpdxJson, sbom, "2024-01-01T00:00:00Z");

  auto tag = store->ResolveTag(repo + ":" + ReferrersTag(image.digest));
  ASSERT_TRUE(tag);
  EXPECT_EQ(ReferrersTag(image.digest), "sha256-" + image.digest.hex);
  Index idx = LocalReferrers(*store, repo, image.digest);
  ASSERT_EQ(idx.manifests.size(), 2u);
  for (const auto& d : idx.manifests) EXPECT_FALSE(d.artifact_type.empty());

  auto m = nlohmann::json::parse(store->ReadBlob(a.digest));
  EXPECT_EQ(m["mediaType"], media::kOciManifest);
  EXPECT_EQ(m["artifactType"], "application/spdx+json");
  EXPECT_EQ(m["config"]["mediaType"], media::kOciEmpty);
  EXPECT_EQ(m["config"]["digest"], "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(m["config"]["size"], 2);
  EXPECT_EQ(m["subject"]["digest"], image.digest.str());
  EXPECT_EQ(m["layers"].size(), 1u);
  EXPECT_EQ(m["layers"][0]["mediaType"], "application/spdx+json");
  EXPECT_EQ(m["annotations"]["org.opencontainers.image.created"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(store->ReadBlob(Digest::Parse(m["layers"][0]["digest"].get<std::string>())), sbom);
  EXPECT_EQ(nlohmann::json::parse(store->ReadBlob(p.digest))["artifactType"], "application/vnd.in-toto+json");
}

TEST_F(SupplyChain, SignVerifyAndTamper) {
  std::string repo = "localhost:5000/app";
  auto key = tmp.path() / "k.key", pub = tmp.path() / "k.pub";
  KeyGen(key, pub, "pw");
  Signature s = Sign(*store, image, repo, key, "pw");
  EXPECT_EQ(SignatureTag(image.digest), "sha256-" + image.digest.hex + ".sig");
  auto tagged = store->ResolveTag(repo + ":" + SignatureTag(image.digest));
  ASSERT_TRUE(tagged);
  auto m = nlohmann::json::parse(store->ReadBlob(tagged->digest));
  ASSERT_EQ(m["layers"].size(), 1u);
  EXPECT_EQ(m["layers"][0]["mediaType"], kCosignSimpleSigningMediaType);
  EXPECT_EQ(m["layers"][0]["annotations"][kCosignSignatureAnnotation], s.signature_b64);
  EXPECT_TRUE(Verify(*store, image.digest, repo, pub));

  // Wrong image, wrong repository, wrong key: all fail loudly.
  EXPECT_THROW(Verify(*store, Sha256Of("other"), repo, pub), Error);
  EXPECT_THROW(Verify(*store, image.digest, "localhost:5000/other", pub), Error);
  auto key2 = tmp.path() / "k2.key", pub2 = tmp.path() / "k2.pub";
  KeyGen(key2, pub2, "pw");
  EXPECT_THROW(Verify(*store, image.digest, repo, pub2), Error);

  // A signature manifest pointing at a tampered payload fails.
  nlohmann::json bad = m;
  std::string payload = s.payload;
  payload.replace(payload.find(image.digest.hex), 64, Sha256Of("evil").hex);
  Descriptor evil = store->PutBlob(payload, kCosignSimpleSigningMediaType);
  bad["layers"][0]["digest"] = evil.digest.str();
  bad["layers"][0]["size"] = evil.size;
  store->SetTag(repo + ":" + SignatureTag(image.digest), store->PutBlob(bad.dump(), media::kOciManifest));
  try {
    Verify(*store, image.digest, repo, pub);
    FAIL() << "tampered payload verified";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
}

TEST_F(SupplyChain, SignAllCoversTheIndexAndEachPlatform) {
  const std::string repo = "localhost:5000/app";
  const auto key = tmp.path() / "k.key", pub = tmp.path() / "k.pub";
  KeyGen(key, pub, "pw");
  // The same image for arm64: another config, another manifest.
  Manifest m = ParseManifest(store->ReadBlob(image.digest));
  ImageConfig c = ParseImageConfig(store->ReadBlob(m.config.digest));
  c.architecture = "arm64";
  m.config = store->PutBlob(ToJson(c), media::kOciConfig);
  const Descriptor arm = store->PutBlob(ToJson(m), media::kOciManifest);
  const Descriptor idx = PutIndex(*store, {image, arm}, IndexFormat::kOci);

  const std::vector<Signature> sigs = SignAll(*store, idx, repo, key, "pw");
  ASSERT_EQ(sigs.size(), 3u);
  EXPECT_EQ(sigs[0].subject, idx.digest);
  EXPECT_EQ(sigs[1].subject, image.digest);
  EXPECT_EQ(sigs[2].subject, arm.digest);
  for (const Digest& d : {idx.digest, image.digest, arm.digest}) EXPECT_TRUE(Verify(*store, d, repo, pub)) << d.str();
  // An image manifest: itself alone.
  EXPECT_EQ(SignAll(*store, image, repo, key, "pw").size(), 1u);

  // A platform missing from the store: nothing is signed, and the error names it.
  Descriptor absent = arm;
  absent.digest = Sha256Of("absent manifest");
  absent.platform = Platform::Parse("linux/s390x");
  Index partial;
  partial.manifests = {absent};
  const Descriptor partial_idx = store->PutBlob(ToJson(partial), media::kOciIndex);
  try {
    SignAll(*store, partial_idx, repo, key, "pw");
    FAIL() << "signed an index with a manifest missing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest " + absent.digest.str() + " (linux/s390x) is not in the store"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(store->ResolveTag(repo + ":" + SignatureTag(partial_idx.digest)));
}

}  // namespace
}  // namespace kiln::oci
