#include "oci/supply/supply_chain.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/supply/referrers.h"
#include "oci/supply/signature.h"

namespace kiln::oci {

LoadedImage LoadImage(const Store& store, const Descriptor& manifest) {
  LoadedImage img;
  img.manifest_desc = manifest;
  img.manifest = ParseManifest(store.ReadBlob(manifest.digest));
  img.config = ParseImageConfig(store.ReadBlob(img.manifest.config.digest));
  for (size_t i = 0; i < img.manifest.layers.size(); ++i) {
    const Descriptor& l = img.manifest.layers[i];
    if (!store.HasBlob(l.digest))
      throw Error("image " + manifest.digest.str() + ": layer " + l.digest.str() + " is not in the store");
    LayerBlob blob{store.BlobPath(l.digest), l.digest.str(), {}};
    // The unpacked dir stands for the blob only once kiln saw this blob
    // unpack to that diff_id (a config's claim alone could name another
    // image's layer); otherwise the blob itself is read.
    if (i < img.config.diff_ids.size() && store.HasLayerDir(img.config.diff_ids[i]) &&
        store.RecordedDiffId(l.digest) == img.config.diff_ids[i])
      blob.unpacked = store.LayerDir(img.config.diff_ids[i]);
    img.layers.push_back(std::move(blob));
  }
  return img;
}

std::string GenerateSbom(const Store& store, const Descriptor& manifest, SbomFormat format,
                         const SbomDocOptions& opts, const std::string& image_name) {
  LoadedImage img = LoadImage(store, manifest);
  Sbom sbom = CatalogLayers(img.layers);
  sbom.image.name = image_name;
  sbom.image.manifest_digest = manifest.digest.str();
  sbom.image.config_digest = img.manifest.config.digest.str();
  sbom.image.architecture = img.config.architecture;
  sbom.image.os = img.config.os;
  return SerializeSbom(sbom, format, opts);
}

std::vector<SecretFinding> ScanImageForSecrets(const Store& store, const Descriptor& manifest,
                                               const SecretScanOptions& opts) {
  LoadedImage img = LoadImage(store, manifest);
  return ScanLayersForSecrets(img.config, img.layers, opts);
}

namespace {

// True when every layer is unpacked in the store (a build leaves each layer
// it made or ran on there) and not one entry in them has a setuid or setgid
// bit: then there is nothing to strip, known from a walk of the unpacked
// trees, without decompressing every layer again (1 s for 650 MB).
bool SurelyNoSetBits(const Store& store, const ImageConfig& config, const std::set<Digest>& known,
                     std::vector<Digest>& walked) {
  namespace fs = std::filesystem;
  for (const Digest& diff_id : config.diff_ids) {
    if (known.count(diff_id)) continue;
    if (!store.HasLayerDir(diff_id)) return false;
    std::error_code ec;
    fs::recursive_directory_iterator it(store.LayerDir(diff_id), fs::directory_options::none, ec), end;
    if (ec) return false;
    for (; it != end; it.increment(ec)) {
      if (ec) return false;
      const fs::file_status st = it->symlink_status(ec);
      if (ec) return false;
      if ((st.permissions() & (fs::perms::set_uid | fs::perms::set_gid)) != fs::perms::none &&
          st.type() != fs::file_type::symlink)
        return false;
    }
    if (ec) return false;
    walked.push_back(diff_id);
  }
  return true;
}

}  // namespace

StripResult StripSetuid(const Store& store, const Descriptor& manifest, const StripOptions& opts) {
  LoadedImage img = LoadImage(store, manifest);
  StripResult r;
  if (opts.strip_shells.empty() && SurelyNoSetBits(store, img.config, opts.no_set_bits, r.walked_without_set_bits))
    return r;
  Store::TempDir tmp = store.MakeTempDir("strip-setuid");
  auto tar = tmp.path() / "layer.tar";
  r.report = StripSetuidLayers(img.layers, opts, tar);
  if (r.report.empty()) return r;
  Descriptor blob = store.ImportBlob(tar, media::kOciLayerTar);
  r.layer = Layer{blob, blob.digest};
  return r;
}

Descriptor AppendLayer(const Store& store, const Descriptor& manifest, const Layer& layer,
                       const std::string& created_by, const std::string& created) {
  Manifest m = ParseManifest(store.ReadBlob(manifest.digest));
  ImageConfig c = ParseImageConfig(store.ReadBlob(m.config.digest));
  c.diff_ids.push_back(layer.diff_id);
  c.history.push_back({created, created_by, "", "", false});
  m.config = store.PutBlob(ToJson(c), m.config.media_type.empty() ? media::kOciConfig : m.config.media_type);
  m.layers.push_back(layer.blob);
  Descriptor out = store.PutBlob(ToJson(m), m.media_type);
  out.platform = manifest.platform;
  return out;
}

Descriptor AttachSbom(Store& store, const std::string& repo, const Descriptor& manifest, SbomFormat format,
                      const std::string& document, const std::string& created) {
  const char* type = SbomMediaType(format);
  return AttachArtifact(store, repo, manifest, document, type, type, created, {{"kiln.artifact.name", "sbom"}});
}

Descriptor AttachProvenance(Store& store, const std::string& repo, const Descriptor& manifest,
                            const std::string& statement, const std::string& created) {
  return AttachArtifact(store, repo, manifest, statement, kInTotoMediaType, kInTotoMediaType, created,
                        {{"kiln.artifact.name", "provenance"}, {"in-toto.io/predicate-type", kSlsaProvenanceV1}});
}

namespace {

// cosign's signature image config: an OCI config whose rootfs lists the
// payload layers' digests.
std::string SignatureConfig(const std::vector<Descriptor>& layers) {
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const auto& l : layers) diff_ids.push_back(l.digest.str());
  nlohmann::json j = {{"architecture", ""},
                      {"os", ""},
                      {"config", nlohmann::json::object()},
                      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  return j.dump();
}

std::string Repo(const std::string& docker_reference) {
  if (docker_reference.empty()) throw Error("signature: a repository (docker reference) is required");
  return docker_reference;
}

}  // namespace

Signature Sign(Store& store, const Descriptor& manifest, const std::string& docker_reference,
               const std::filesystem::path& private_key, const std::string& password) {
  std::string repo = Repo(docker_reference);
  Signature s;
  s.payload = SimpleSigningPayload(repo, manifest.digest);
  s.signature_b64 = SignPayload(s.payload, private_key, password);
  Descriptor layer = store.PutBlob(s.payload, kCosignSimpleSigningMediaType);
  layer.annotations[kCosignSignatureAnnotation] = s.signature_b64;

  std::string tag = repo + ":" + SignatureTag(manifest.digest);
  Manifest m;
  if (auto existing = store.ResolveTag(tag)) {
    m = ParseManifest(store.ReadBlob(existing->digest));
    std::erase_if(m.layers, [&](const Descriptor& d) { return d.digest == layer.digest; });
  }
  m.media_type = media::kOciManifest;
  m.layers.push_back(layer);
  m.config = store.PutBlob(SignatureConfig(m.layers), media::kOciConfig);
  s.sig_manifest = store.PutBlob(ToJson(m), media::kOciManifest);
  s.subject = manifest.digest;
  store.SetTag(tag, s.sig_manifest);
  return s;
}

std::vector<Signature> SignAll(Store& store, const Descriptor& image_or_index, const std::string& docker_reference,
                               const std::filesystem::path& private_key, const std::string& password) {
  Descriptor top = image_or_index;
  std::string body;
  if (IsIndex(store, top)) {
    body = store.ReadBlob(top.digest);
    top.media_type = ParseIndex(body).media_type;
  }
  const std::vector<Descriptor> subjects = SignedSubjects(top, body);
  for (const Descriptor& d : subjects)  // all or nothing: no index signed with a platform left out
    if (!store.HasBlob(d.digest))
      throw Error("sign " + docker_reference + "@" + top.digest.str() + ": " + DescribeSubject(d) +
                  " is not in the store (pull every platform: kiln pull --all-platforms)");
  std::vector<Signature> out;
  for (const Descriptor& d : subjects) out.push_back(Sign(store, d, docker_reference, private_key, password));
  return out;
}

bool Verify(const Store& store, const Digest& manifest_digest, const std::string& docker_reference,
            const std::filesystem::path& public_key) {
  std::string repo = Repo(docker_reference);
  std::string tag = repo + ":" + SignatureTag(manifest_digest);
  auto sig = store.ResolveTag(tag);
  if (!sig) throw Error("verify " + repo + "@" + manifest_digest.str() + ": no signature (" + tag + " not in the store)");
  return VerifySignatureManifest(store, *sig, manifest_digest, repo, public_key);
}

bool VerifySignatureManifest(const Store& store, const Descriptor& sig_manifest, const Digest& manifest_digest,
                             const std::string& docker_reference, const std::filesystem::path& public_key) {
  const std::string repo = Repo(docker_reference);
  Manifest m = ParseManifest(store.ReadBlob(sig_manifest.digest, /*verify=*/true));
  std::string why;
  for (const auto& l : m.layers) {
    if (l.media_type != kCosignSimpleSigningMediaType) continue;
    auto a = l.annotations.find(kCosignSignatureAnnotation);
    if (a == l.annotations.end()) {
      why += "\n  layer " + l.digest.str() + ": no " + kCosignSignatureAnnotation + " annotation";
      continue;
    }
    try {
      std::string payload = store.ReadBlob(l.digest, /*verify=*/true);
      VerifyPayloadSignature(payload, a->second, public_key);
      CheckSimpleSigningPayload(payload, manifest_digest, repo);
      return true;
    } catch (const Error& e) {
      why += "\n  layer " + l.digest.str() + ": " + e.what();
    }
  }
  throw Error("verify " + repo + "@" + manifest_digest.str() + ": no valid signature" +
              (why.empty() ? std::string(": no simple-signing layers") : why));
}

void KeyGen(const std::filesystem::path& private_key, const std::filesystem::path& public_key,
            const std::string& password) {
  GenerateKeyPair(private_key, public_key, password);
}

}  // namespace kiln::oci
