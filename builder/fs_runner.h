// The real StepRunner: each filesystem step mounts an overlay (lowers = the
// parent's unpacked layers, upper = a fresh dir in the store's tmp), runs the
// command in the sandbox or copies files in as namespace-root, unmounts,
// writes the upper dir as a reproducible layer and adopts it as that layer's
// unpacked dir (the upper dir IS the layer in overlay form).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "builder/base_image.h"
#include "builder/build_options.h"
#include "builder/context.h"
#include "builder/layer_cache.h"
#include "builder/step_runner.h"
#include "oci/layer/layer.h"
#include "oci/store/store.h"
#include "sandbox/run.h"

namespace kiln::builder {

// How the build's layers are written: --compression and the timestamps.
oci::LayerOptions LayerOptionsFor(const BuildOptions& opts);

class FsStepRunner : public StepRunner {
 public:
  FsStepRunner(oci::Store& store, LayerCache& layers, BuildContext* context,
               BaseImageResolver& images, const BuildOptions& opts);
  std::optional<oci::Layer> Run(const ImageState& parent, const RunRequest& req) override;
  std::optional<oci::Layer> Copy(const ImageState& parent, const CopyRequest& req) override;
  std::optional<oci::Layer> Workdir(const ImageState& parent, const WorkdirRequest& req) override;
  const ImageState& Image(const std::string& ref) override { return images_.Resolve(ref); }
  // The steps' binaries are a foreign architecture's: RUN goes through this
  // binfmt_misc handler (sandbox::RunSpec::emulation).
  void SetEmulation(std::optional<sandbox::Emulation> e) { emulation_ = std::move(e); }

 private:
  // `snapshot`: a layer nothing exports, written uncompressed (no gzip for
  // what only COPY --from reads; FinalizeImage compresses it if exported).
  std::optional<oci::Layer> Finish(const std::filesystem::path& upper, const oci::Digest& lineage = {},
                                   bool snapshot = false);
  struct MountResources;
  std::optional<sandbox::Mount> PrepareMount(const frontend::MountSpec& m, const ImageState* from,
                                             const std::string& cwd, sandbox::RunSpec& spec, MountResources& held);
  std::optional<sandbox::Mount> SecretMount(const frontend::MountSpec& m, const std::string& cwd,
                                            sandbox::RunSpec& spec, MountResources& held);
  // `seed`: what a new cache starts with (from=/source=), empty for an empty dir.
  std::filesystem::path CacheMountDir(const std::string& id, const frontend::MountSpec& m, MountResources& held,
                                      const std::filesystem::path& seed = {});
  // A read-only view of a stage's or image's filesystem for the step's mounts.
  std::filesystem::path StateView(const ImageState& state, MountResources& held);
  // The overlay lowers that show the build context as .dockerignore leaves
  // it: the context dir, under a layer of whiteouts for what is ignored
  // (made on first use, kept for the whole build).
  std::vector<std::filesystem::path> ContextLowers();
  oci::Store& store_;
  LayerCache& layers_;
  BuildContext* context_;
  BaseImageResolver& images_;
  const BuildOptions& opts_;
  oci::LayerOptions layer_opts_;
  // A context COPY's tree, which later COPYs of the same files in this build
  // link from (EarlierFiles in copy.h): the build-context path its files came
  // from, and where they went below the tree.
  struct CopyDonor {
    oci::Digest diff_id;
    std::string from_top, to_top_rel;
  };
  std::optional<CopyDonor> DonorFor(const std::string& source);  // the latest one `source` is below
  std::mutex donors_mu_;
  std::vector<CopyDonor> donors_;
  std::mutex context_mask_mu_;
  std::optional<oci::Store::TempDir> context_mask_;
  std::optional<sandbox::Emulation> emulation_;
};

}  // namespace kiln::builder
