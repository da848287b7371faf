// The seam between the stage logic (stage_executor.h: variables, config,
// cache keys, cache hits) and the effects of a step (mounting, running,
// copying, writing layers). The real runner is FsStepRunner (fs_runner.h);
// unit tests drive StageExecutor with a fake that records requests.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "builder/image_state.h"
#include "frontend/instructions.h"
#include "oci/layer/layer.h"

namespace kiln::builder {

// A mount of a RUN step whose source is another state (mount from=stage).
struct RunRequest {
  frontend::RunCmd run;              // heredocs and mounts as written (flags expanded)
  std::vector<std::string> argv;     // what to exec (shell already applied)
  std::vector<std::string> env;      // "K=V", exactly what the process sees
  std::string user;                  // config USER, resolved by the runner inside the rootfs
  std::string cwd = "/";
  std::string stdin_data;            // RUN cmd <<EOF bodies fed to stdin
  frontend::Location where;
  // Resolved states for --mount=from=<stage|image>, parallel to run.mounts
  // (nullptr where the mount reads the build context or has no source).
  std::vector<const ImageState*> mount_from;
  std::function<void(std::string_view line)> on_output;
  oci::Digest lineage;               // layer_lineage.h: what this step made last time
  bool snapshot = false;             // StageSettings::exported false: an uncompressed layer
};

struct CopyRequest {
  frontend::CopyCmd copy;            // expanded
  std::string workdir = "/";
  const ImageState* from = nullptr;  // --from stage/image; nullptr = build context
  frontend::Location where;
  oci::Digest lineage;               // layer_lineage.h: what this step made last time
  bool snapshot = false;             // StageSettings::exported false: an uncompressed layer
};

// WORKDIR creates its directory at once, as BuildKit's
// Mkdir(wd, 0755, WithParents, WithUser(USER)): every directory it creates is
// 0755 and owned by the stage's USER (root when unset).
struct WorkdirRequest {
  std::string path;  // absolute, clean, not "/"
  std::string user;  // config USER, resolved by the runner inside the rootfs
  frontend::Location where;
};

// A step that ran and failed (non-zero exit): what the user needs to see.
class StepFailed : public std::runtime_error {
 public:
  StepFailed(const std::string& msg, std::vector<std::string> tail)
      : std::runtime_error(msg), tail_(std::move(tail)) {}
  const std::vector<std::string>& tail() const { return tail_; }

 private:
  std::vector<std::string> tail_;
};

// StepFailed with the instruction's place: "Dockerfile:7: RUN false: exit code 1".
class StepError : public frontend::Error {
 public:
  StepError(frontend::Location where, const std::string& msg, std::vector<std::string> tail)
      : frontend::Error(std::move(where), msg), tail_(std::move(tail)) {}
  const std::vector<std::string>& tail() const { return tail_; }

 private:
  std::vector<std::string> tail_;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Each returns the step's new layer, or nullopt when the filesystem did not change.
  virtual std::optional<oci::Layer> Run(const ImageState& parent, const RunRequest& req) = 0;
  virtual std::optional<oci::Layer> Copy(const ImageState& parent, const CopyRequest& req) = 0;
  virtual std::optional<oci::Layer> Workdir(const ImageState& parent, const WorkdirRequest& req) = 0;
  // An image named by COPY --from / --mount from= (not a stage).
  virtual const ImageState& Image(const std::string& ref) = 0;
};

}  // namespace kiln::builder
