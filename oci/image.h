// OCI image-spec data: descriptors, image config, manifest, index. JSON is
// written canonically (sorted keys, no spaces) so the same image gives the
// same bytes and digest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "oci/platform.h"

namespace kiln::oci {

namespace media {
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
// The index annotation that names a manifest (an OCI layout's tag).
inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";
inline bool IsIndexMediaType(const std::string& mt) { return mt == kOciIndex || mt == kDockerManifestList; }
}  // namespace media

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifact_type;
};

struct Healthcheck {
  std::vector<std::string> test;
  int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // ns
  int retries = 0;
};

struct ContainerConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> env;          // "K=V", in order
  std::optional<std::vector<std::string>> entrypoint, cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<Healthcheck> healthcheck;   // docker extension
  std::vector<std::string> shell;           // docker extension
  std::vector<std::string> on_build;        // docker extension
};

struct History {
  std::string created;      // RFC 3339
  std::string created_by;
  std::string author, comment;
  bool empty_layer = false;
};

struct ImageConfig {
  std::string created;      // RFC 3339, empty to omit
  std::string author;
  std::string architecture = "amd64";
  std::string os = "linux";
  std::string variant;
  ContainerConfig config;
  std::vector<Digest> diff_ids;
  std::vector<History> history;
};

struct Manifest {
  std::string media_type = media::kOciManifest;
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type = media::kOciIndex;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

// Canonical JSON (sorted keys, compact). Parsing accepts OCI and Docker
// media types and unknown fields; throws oci::Error on malformed input.
std::string ToJson(const ImageConfig&);
std::string ToJson(const Manifest&);
std::string ToJson(const Index&);
ImageConfig ParseImageConfig(std::string_view json);
Manifest ParseManifest(std::string_view json);
Index ParseIndex(std::string_view json);
std::string DescriptorToJson(const Descriptor&);

// RFC 3339 UTC ("1970-01-01T00:00:00Z") for a unix time.
std::string Rfc3339(int64_t unix_seconds);

}  // namespace kiln::oci
