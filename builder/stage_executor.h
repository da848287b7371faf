// One stage: ONBUILD triggers of the base, then each instruction expanded
// with the stage's ARG/ENV scope, cache key, cache hit or a call into the
// StepRunner seam, and the config/history that docker records.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "builder/context.h"
#include "builder/image_state.h"
#include "builder/progress.h"
#include "builder/step_cache.h"
#include "builder/step_runner.h"
#include "frontend/instructions.h"
#include "frontend/stage_vars.h"

namespace kiln::builder {

struct StageSettings {
  bool no_cache = false;   // do not look up (still records)
  std::string created;     // history/created timestamp (RFC 3339) for new entries
  std::string layer_time;  // cache key field describing layer mtimes ("epoch=0", "keep")
  std::string label;       // "build" / "stage-1": shown as [label k/n]
  char escape = '\\';
  // What --add-host, --ulimit and --shm-size give every RUN (part of RUN's
  // cache key, as in BuildKit's ExecOp); empty without them.
  std::string run_sandbox;
  // The platform the stage is built for when it is not the host's ("" for
  // the host): part of every step's key, so that a step cached for one
  // platform is never taken for another.
  std::string platform;
  // Set when another stage of the build failed: the stage stops before its
  // next step (StageStopped) instead of running on for nothing.
  const std::atomic<bool>* stop = nullptr;
  // False for a stage nothing exports (only COPY --from or mount from= read
  // it): its layers are uncompressed snapshots, and FinalizeImage compresses
  // any that end up in the image after all.
  bool exported = true;
};

// Thrown by StageExecutor::Build when StageSettings::stop was set.
class StageStopped : public std::runtime_error {
 public:
  StageStopped() : std::runtime_error("stopped: another stage of the build failed") {}
};

class StageExecutor {
 public:
  // `stage_state(i)` returns a finished earlier stage (nullptr if not built).
  StageExecutor(StepRunner& runner, StepCache* cache, BuildContext* context, Progress& progress,
                std::function<const ImageState*(int)> stage_state);

  // Builds stage `index` of `df` on top of `base`. Throws frontend::Error
  // (with the Dockerfile line) for a missing context file, a failed step
  // (StepFailed is wrapped), bad values.
  ImageState Build(const frontend::Dockerfile& df, int index, ImageState base, frontend::StageVars vars,
                   const StageSettings& settings);

  int steps_run() const { return steps_run_; }
  int steps_cached() const { return steps_cached_; }

 private:
  ImageState Step(const frontend::Dockerfile& df, int index, const ImageState& state,
                  const frontend::Instruction& expanded, frontend::StageVars& vars,
                  const StageSettings& settings, const std::string& label);
  const ImageState& FromRef(const frontend::Dockerfile& df, int index, const std::string& ref);

  StepRunner& runner_;
  StepCache* cache_;
  BuildContext* context_;
  Progress& progress_;
  std::function<const ImageState*(int)> stage_state_;
  int steps_run_ = 0, steps_cached_ = 0;
};

// Digest naming a base image state (its manifest) for the cache.
oci::Digest BaseStateDigest(const std::string& kind, const std::string& id);

}  // namespace kiln::builder
