// A StepRunner that runs nothing: it records each request and answers with a
// fresh layer blob in the store, so stage logic (expansion, config, cache keys
// and hits) can be driven without mounts or processes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "builder/stage_executor.h"
#include "builder/step_runner.h"
#include "oci/store/store.h"

namespace kiln::builder {

class FakeRunner : public StepRunner {
 public:
  explicit FakeRunner(oci::Store& store) : store_(store) {}
  std::optional<oci::Layer> Run(const ImageState&, const RunRequest& req) override {
    runs.push_back(req);
    if (fail_next) {
      fail_next = false;
      throw StepFailed("exit code 2", {"boom"});
    }
    return MakeLayer("run" + std::to_string(runs.size()));
  }
  std::optional<oci::Layer> Copy(const ImageState&, const CopyRequest& req) override {
    copies.push_back(req);
    return MakeLayer("copy" + std::to_string(copies.size()));
  }
  std::optional<oci::Layer> Workdir(const ImageState&, const WorkdirRequest& req) override {
    workdirs.push_back(req);
    if (workdir_exists) return std::nullopt;
    return MakeLayer("workdir" + std::to_string(workdirs.size()));
  }
  const ImageState& Image(const std::string& ref) override {
    images.push_back(ref);
    image_.digest = BaseStateDigest("image", ref);
    return image_;
  }
  oci::Layer MakeLayer(const std::string& seed) {
    // Unique content per call so that layers differ.
    oci::Layer l;
    l.blob = store_.PutBlob(seed + std::to_string(++counter_), oci::media::kOciLayerGzip);
    l.diff_id = oci::Sha256Of("diff" + seed + std::to_string(counter_));
    return l;
  }
  std::vector<RunRequest> runs;
  std::vector<CopyRequest> copies;
  std::vector<WorkdirRequest> workdirs;
  std::vector<std::string> images;
  bool fail_next = false;
  bool workdir_exists = false;  // Workdir() finds the directory already there

 private:
  oci::Store& store_;
  ImageState image_;
  int counter_ = 0;
};

}  // namespace kiln::builder
