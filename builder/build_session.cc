#include "builder/build_session.h"

#include "frontend/dockerignore.h"
#include "oci/digest.h"
#include "sandbox/file_io.h"
#include "sandbox/isolation_level.h"
#include "sandbox/working_root.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

frontend::IgnoreMatcher IgnoreFor(const BuildOptions& opts, const std::string& df_path) {
  const std::string file = frontend::FindIgnoreFile(opts.context_dir, df_path == "-" ? "" : df_path);
  if (file.empty()) return {};
  return frontend::IgnoreMatcher(frontend::ReadIgnoreFile(sandbox::ReadFileToString(file)));
}

}  // namespace

BuildSession::BuildSession(const BuildOptions& opts, const std::string& dockerfile_path, const PlatformPlan& plan,
                           const EmulationMap& emulation, Progress& progress)
    : store(oci::Store::DefaultRoot()),
      store_lock(store, false),
      ctx_abs(fs::absolute(opts.context_dir).lexically_normal().string()),
      ignore(IgnoreFor(opts, dockerfile_path)),
      stat_cache(store.Path("cache/context") / (oci::Sha256Of(ctx_abs).hex + ".stat")),
      context(ctx_abs, ignore, &stat_cache),
      cache(store),
      layers(store) {
  store.SweepStaleTemp();
  // Without mounts a stage's steps hand one working root on, instead of
  // copying the image for each step (sandbox/working_root.h).
  if (!sandbox::CurrentIsolation().mounts) {
    kept_roots.emplace(store.MakeTempDir("roots"));
    sandbox::WorkingRoot::SetKeepDirectory(kept_roots->path());
  }
  base_opts.always_pull = opts.pull;
  base_opts.insecure = opts.insecure_registry;
  base_opts.note = [&progress](const std::string& s) { progress.Note(s); };
  base_opts.registries = oci::RegistriesConf::Load();
  for (const auto& m : opts.registry_mirrors) base_opts.registries.AddMirror(m);
  // A pulled image is unpacked (and so checked) before it is tagged: a forged
  // or corrupt one leaves no tag behind, only unreferenced blobs.
  base_opts.verify = [this](const std::string& name, const ImageState& st) {
    layers.NameImage(st, name);
    layers.Lowers(st);
  };
  base_opts.named_contexts = opts.build_contexts;
  const oci::Platform host = oci::Platform::Host();
  auto add = [&](const oci::Platform& p) {
    if (tools.count(p.str())) return;
    BaseImageOptions bo = base_opts;
    bo.platform = p;
    bo.platform_given = !opts.platforms.empty() || !(p == host);
    PlatformTools& t = tools[p.str()];
    t.resolver = std::make_unique<BaseImageResolver>(store, bo);
    t.runner = std::make_unique<FsStepRunner>(store, layers, &context, *t.resolver, opts);
    if (auto it = emulation.find(p.str()); it != emulation.end()) t.runner->SetEmulation(it->second);
  };
  for (const auto& t : plan.targets) add(t.platform);
  for (const auto& i : plan.instances) add(i.platform);
}

}  // namespace kiln::builder
