// The machinery one build uses, set up once: the store (held with a shared
// lock), the build context with its .dockerignore and stat cache, the step
// and layer caches, and per platform of the plan the base image resolver and
// the step runner (with that platform's emulation).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "builder/base_image.h"
#include "builder/build_options.h"
#include "builder/context.h"
#include "builder/fs_runner.h"
#include "builder/layer_cache.h"
#include "builder/platform_plan.h"
#include "builder/progress.h"
#include "builder/step_cache.h"
#include "frontend/dockerignore.h"
#include "oci/store/store.h"
#include "sandbox/binfmt.h"
#include "sandbox/working_root.h"

namespace kiln::builder {

// Per platform ("linux/arm64"): how its RUN steps run; nullopt or absent: natively.
using EmulationMap = std::map<std::string, std::optional<sandbox::Emulation>>;

// The build's machinery: the store, the context, the caches, and per
// platform the base image resolver and the step runner.
struct BuildSession {
  struct PlatformTools {
    std::unique_ptr<BaseImageResolver> resolver;
    std::unique_ptr<FsStepRunner> runner;
  };

  // Opens the store (shared lock) and makes a resolver and a runner for
  // every platform of the plan, each runner with its platform's emulation.
  BuildSession(const BuildOptions& opts, const std::string& dockerfile_path, const PlatformPlan& plan,
               const EmulationMap& emulation, Progress& progress);

  PlatformTools& For(const oci::Platform& p) { return tools.at(p.str()); }

  oci::Store store;
  oci::Store::Lock store_lock;
  std::optional<oci::Store::TempDir> kept_roots;
  struct KeptRootsOff {
    ~KeptRootsOff() { sandbox::WorkingRoot::SetKeepDirectory({}); }
  } kept_roots_off;
  std::string ctx_abs;
  frontend::IgnoreMatcher ignore;  // .dockerignore
  StatCache stat_cache;            // persistent, per context directory
  BuildContext context;
  StepCache cache;
  LayerCache layers;
  BaseImageOptions base_opts;      // the registries also say where pushes go
  std::map<std::string, PlatformTools> tools;  // by platform
};

}  // namespace kiln::builder
