#include "oci/docker_manifest.h"

#include "oci/error.h"

namespace kiln::oci {
namespace {

// Schema 2 knows gzip and (rarely used, but accepted by docker pull) plain tar.
constexpr const char* kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

std::string DockerLayerType(const std::string& oci_type, const Digest& digest) {
  if (oci_type == media::kOciLayerGzip || oci_type == media::kDockerLayerGzip) return media::kDockerLayerGzip;
  if (oci_type == media::kOciLayerTar || oci_type == kDockerLayerTar) return kDockerLayerTar;
  throw Error("--format docker: layer " + digest.str() + " is " + oci_type +
              ", which Docker schema 2 cannot describe (build with --compression gzip, or --format oci)");
}

}  // namespace

Descriptor ConvertToDockerManifest(const Store& store, const Descriptor& manifest) {
  Manifest m = ParseManifest(store.ReadBlob(manifest.digest));
  if (m.media_type == media::kDockerManifest) return manifest;
  if (m.media_type != media::kOciManifest) {
    throw Error("--format docker: " + manifest.digest.str() + " is a " + m.media_type + ", not an image manifest");
  }
  m.media_type = media::kDockerManifest;
  m.config.media_type = media::kDockerConfig;
  m.config.annotations.clear();
  for (auto& l : m.layers) {
    l.media_type = DockerLayerType(l.media_type, l.digest);
    l.annotations.clear();
  }
  m.annotations.clear();
  m.subject.reset();
  m.artifact_type.clear();
  return store.PutBlob(ToJson(m), media::kDockerManifest);
}

}  // namespace kiln::oci
