// The flags of `kiln build` that exist for scripts written for
// `docker buildx build` and `buildah build` (docs/docker-compat.md lists how
// each one maps): registered on the build command, then applied to the
// BuildOptions. cmd_build.cc keeps kiln's own flags.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "builder/build_options.h"

namespace CLI {
class App;
}

namespace kiln::builder {

struct CompatFlags {
  std::vector<std::string> labels, annotations, add_hosts, build_contexts, ssh, ulimits, attest, build_arg_files;
  std::string shm_size, cgroup_parent, call = "build", sbom, provenance, sign_by, userns, pull, tls_verify, authfile;
  bool check = false, squash = false, load = false, legacy_noop = false, layers = true;
};

void AddCompatFlags(CLI::App* cmd, const std::shared_ptr<CompatFlags>& f);

// Throws CLI::ValidationError naming the flag. `note` gets what a flag
// accepted but does not do here (printed unless -q).
void ApplyCompatFlags(const CompatFlags& f, BuildOptions& opts, std::vector<std::string>& notes);

// Byte counts as docker writes them: "64m", "1g", "512k", "1048576", "2GiB".
uint64_t ParseByteSize(const std::string& text);

// "nofile=1024:2048", "nproc=512", "core=unlimited" (docker's --ulimit).
UlimitSpec ParseUlimit(const std::string& text);

}  // namespace kiln::builder
