#include "builder/provenance_input.h"

#include "oci/image.h"
#include "sandbox/isolation_level.h"

namespace kiln::builder {

oci::ProvenanceInput MakeProvenanceInput(const BuildOptions& opts, const BuildFacts& f) {
  oci::ProvenanceInput pi;
  pi.image_name = f.image_name;
  pi.image_manifest = f.manifest;
  pi.dockerfile_path = f.dockerfile_path;
  pi.dockerfile_digest = oci::Sha256Of(f.dockerfile_text);
  for (const auto& [k, v] : opts.build_args) pi.build_args[k] = v;
  pi.target = opts.target;
  const oci::Platform host = oci::Platform::Host();
  pi.platforms = {host.os + "/" + host.architecture};
  for (const auto& img : f.images) pi.base_images.push_back({img.uri, img.manifest, img.name});
  pi.context_digest = f.context_digest;
  pi.context_files = f.context_files;
  pi.kiln_version = KILN_VERSION;
  pi.invocation_id = f.manifest.str();
  pi.isolation = sandbox::CurrentIsolation().Name();
  if (opts.source_date_epoch) {
    pi.started_on = pi.finished_on = oci::Rfc3339(*opts.source_date_epoch);
  } else {
    pi.started_on = oci::Rfc3339(f.started);
    pi.finished_on = oci::Rfc3339(f.finished);
  }
  return pi;
}

}  // namespace kiln::builder
