// Multi-platform images: an OCI image index (or, for `--format docker`, a
// Docker manifest list) made from per-platform manifests in the store, and
// the reading side that every command taking an image uses to take an index
// too (choose a platform's manifest, list an index's manifests).
//
// Making one (what `kiln build --platform a,b` does with its results):
//   std::vector<Descriptor> per_platform = {amd64_manifest, arm64_manifest};
//   Descriptor idx = PutIndex(store, per_platform, IndexFormat::kOci);
//   store.SetTag("app:1", idx);   // a tag may name an index like an image
#pragma once

#include <map>
#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/platform.h"
#include "oci/store/store.h"

namespace kiln::oci {

enum class IndexFormat {
  kOci,     // application/vnd.oci.image.index.v1+json of OCI manifests
  kDocker,  // application/vnd.docker.distribution.manifest.list.v2+json of Docker schema 2 manifests
};

// The index JSON listing `manifests` in the order given (canonical: the same
// list gives the same bytes, so the same digest). Each entry keeps its
// mediaType, digest, size and platform; with kOci also its annotations
// (ref.name dropped). Every entry needs a platform, platforms must differ,
// and each must be an image manifest of the format's kind (OCI manifests in
// an OCI index, Docker schema 2 manifests in a manifest list: convert with
// ConvertToDockerManifest first). A manifest list has no annotations, so
// `annotations` must be empty with kDocker. Throws oci::Error saying which
// entry is wrong.
std::string MakeIndexJson(const std::vector<Descriptor>& manifests, IndexFormat format,
                          const std::map<std::string, std::string>& annotations = {});

// Stores the index MakeIndexJson makes and returns its descriptor. Every
// manifest must be in the store; an entry without a platform gets the one
// its image config names. The caller tags it (Store::SetTag) if it wants.
Descriptor PutIndex(const Store& store, std::vector<Descriptor> manifests, IndexFormat format,
                    const std::map<std::string, std::string>& annotations = {});

// True when `desc` is an index or manifest list: by its media type, else
// (a descriptor from a digest alone) by reading the blob.
bool IsIndex(const Store& store, const Descriptor& desc);

// The entries of the index `desc` names, in its order (attestation entries
// and all). Throws oci::Error when `desc` is not an index.
std::vector<Descriptor> IndexManifests(const Store& store, const Descriptor& desc);

// The image manifest a command working on one image uses: `desc` itself
// when it is an image manifest, else its index's manifest for `platform`
// (ChooseManifest). Throws oci::Error naming `what` and the platforms there are.
Descriptor ResolveImage(const Store& store, const Descriptor& desc, const Platform& platform, const std::string& what);

// What a signature covers for `top` (whose JSON is `top_body`): `top`
// itself, and when it is an index each platform's manifest it lists, in its
// order (attestation entries, platform os "unknown", skipped): a verifier
// that resolved one platform finds a signature for that digest too.
std::vector<Descriptor> SignedSubjects(const Descriptor& top, const std::string& top_body);

// "index sha256:..." or "manifest sha256:... (linux/arm64)": how errors name one.
std::string DescribeSubject(const Descriptor& d);

}  // namespace kiln::oci
