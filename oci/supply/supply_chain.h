// Supply-chain operations on images in the Store: the bodies of the CLI's
// `kiln sbom`, `kiln scan-secrets`, `kiln sign`, `kiln verify`, `kiln keygen`
// and of the builder's --strip-setuid / --sbom / --provenance steps. Each
// reads an image (manifest + config + layer blobs) through the Store and
// streams the layer blobs; nothing is unpacked to disk.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/layer/image_fs.h"
#include "oci/layer/layer.h"
#include "oci/supply/provenance.h"
#include "oci/supply/sbom.h"
#include "oci/supply/secret_scan.h"
#include "oci/supply/setuid_strip.h"
#include "oci/store/store.h"

namespace kiln::oci {

// An image as the supply-chain code needs it.
struct LoadedImage {
  Descriptor manifest_desc;
  Manifest manifest;
  ImageConfig config;
  std::vector<LayerBlob> layers;  // blob paths in the store, bottom first
};
LoadedImage LoadImage(const Store& store, const Descriptor& manifest);

// `image_name` is how the user named the image (goes into the document).
std::string GenerateSbom(const Store& store, const Descriptor& manifest, SbomFormat format,
                         const SbomDocOptions& opts, const std::string& image_name = "");

std::vector<SecretFinding> ScanImageForSecrets(const Store& store, const Descriptor& manifest,
                                               const SecretScanOptions& opts = {});

// Computes the fix-up layer (uncompressed tar, media type
// application/vnd.oci.image.layer.v1.tar, so digest == diff_id) and stores
// it. `layer` is unset when there is nothing to change.
struct StripResult {
  StripReport report;
  std::optional<Layer> layer;
  // Layers whose trees were walked and hold no setuid/setgid entry (for the
  // caller to remember as StripOptions::no_set_bits).
  std::vector<Digest> walked_without_set_bits;
};
StripResult StripSetuid(const Store& store, const Descriptor& manifest, const StripOptions& opts);
// Appends `layer` to the image (config diff_ids + history "kiln: strip
// setuid/setgid bits") and stores the new config and manifest.
Descriptor AppendLayer(const Store& store, const Descriptor& manifest, const Layer& layer,
                       const std::string& created_by, const std::string& created);

// Stores the SBOM / provenance as OCI 1.1 artifacts referring to the image
// and updates the "<repo>:sha256-<hex>" fallback index.
Descriptor AttachSbom(Store& store, const std::string& repo, const Descriptor& manifest, SbomFormat format,
                      const std::string& document, const std::string& created);
Descriptor AttachProvenance(Store& store, const std::string& repo, const Descriptor& manifest,
                            const std::string& statement, const std::string& created);

// cosign key-based signatures (see signature.h). Sign stores the signature
// image under "<repo>:sha256-<hex>.sig" (adding a layer if one exists) and
// returns its manifest descriptor. `docker_reference` is the repository as
// cosign writes it ("localhost:5000/app").
struct Signature {
  Digest subject;  // the manifest or index signed
  Descriptor sig_manifest;
  std::string payload;
  std::string signature_b64;
};
Signature Sign(Store& store, const Descriptor& manifest, const std::string& docker_reference,
               const std::filesystem::path& private_key, const std::string& password);
// A multi-platform image: Sign for the index and for each platform's manifest
// it lists (SignedSubjects; each must be in the store); an image manifest:
// Sign alone. The index's signature first. What `kiln build --sign-by` of an
// index does.
std::vector<Signature> SignAll(Store& store, const Descriptor& image_or_index, const std::string& docker_reference,
                               const std::filesystem::path& private_key, const std::string& password);
// True when at least one signature in "<repo>:sha256-<hex>.sig" verifies
// with the key and names this manifest digest (and `docker_reference`).
// Throws oci::Error explaining each failure otherwise: never a quiet false.
bool Verify(const Store& store, const Digest& manifest_digest, const std::string& docker_reference,
            const std::filesystem::path& public_key);
// Same for a given signature manifest in the store (e.g. one just fetched
// from a registry's "<repo>:sha256-<hex>.sig").
bool VerifySignatureManifest(const Store& store, const Descriptor& sig_manifest, const Digest& manifest_digest,
                             const std::string& docker_reference, const std::filesystem::path& public_key);
void KeyGen(const std::filesystem::path& private_key, const std::filesystem::path& public_key,
            const std::string& password);

}  // namespace kiln::oci
