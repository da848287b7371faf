// Image references with docker's defaults: "busybox" is
// docker.io/library/busybox:latest; "localhost:5000/a/b@sha256:..." keeps its
// registry and digest.
#pragma once

#include <string>
#include <string_view>

namespace kiln::oci {

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest" when neither tag nor digest given
  std::string digest;      // "sha256:..." or empty

  static Reference Parse(std::string_view text);  // throws oci::Error
  std::string str() const;          // full form
  std::string familiar() const;     // "busybox:latest" for docker.io/library
  std::string api_host() const;     // "registry-1.docker.io" for docker.io
  bool is_localhost() const;        // localhost / 127.0.0.1 / ::1, any port
};

}  // namespace kiln::oci
