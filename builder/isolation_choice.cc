#include "builder/isolation_choice.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "sandbox/isolation_probe.h"
#include "sandbox/userns.h"

namespace kiln::builder {

sandbox::Isolation ChooseBuildIsolation(const std::string& flag, bool quiet) {
  if (auto inherited = sandbox::InheritedIsolation()) return *inherited;
  std::optional<sandbox::IsolationLevel> forced;
  if (!flag.empty()) {
    // The names scripts written for buildah and docker pass: buildah's oci
    // and rootless run each step in namespaces of its own (kiln's full);
    // docker's default is kiln's auto; chroot is the same word in all three.
    const std::string name = flag == "oci" || flag == "rootless" ? "full" : flag == "default" ? "auto" : flag;
    forced = sandbox::ParseIsolationLevel(name, "--isolation");
  } else if (const char* env = std::getenv("KILN_ISOLATION")) {
    forced = sandbox::ParseIsolationLevel(env, "KILN_ISOLATION");
  }
  const auto start = std::chrono::steady_clock::now();
  const sandbox::IsolationProbe probe = sandbox::ProbeIsolation();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  sandbox::Isolation isolation = sandbox::ChooseIsolation(probe, forced);
  if (!quiet) std::cerr << "kiln: " << isolation.Describe() << "\n";
  if (std::getenv("KILN_DEBUG_ISOLATION"))
    std::cerr << "kiln: isolation probe (" << ms << " ms): " << probe.Summary() << "\n";
  return isolation;
}

}  // namespace kiln::builder
