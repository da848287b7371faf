#include "builder/isolation_choice.h"

#include <cstdlib>
#include <iostream>

#include "sandbox/isolation_probe.h"
#include "sandbox/userns.h"

namespace kiln::builder {

sandbox::Isolation ChooseBuildIsolation(const std::string& flag) {
  if (auto inherited = sandbox::InheritedIsolation()) return *inherited;
  std::optional<sandbox::IsolationLevel> forced;
  if (!flag.empty()) {
    forced = sandbox::ParseIsolationLevel(flag, "--isolation");
  } else if (const char* env = std::getenv("KILN_ISOLATION")) {
    forced = sandbox::ParseIsolationLevel(env, "KILN_ISOLATION");
  }
  const sandbox::IsolationProbe probe = sandbox::ProbeIsolation();
  sandbox::Isolation isolation = sandbox::ChooseIsolation(probe, forced);
  std::cerr << "kiln: " << isolation.Describe() << "\n";
  if (std::getenv("KILN_DEBUG_ISOLATION")) std::cerr << "kiln: isolation probe: " << probe.Summary() << "\n";
  return isolation;
}

}  // namespace kiln::builder
