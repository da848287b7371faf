#include "builder/builder.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "builder/base_image.h"
#include "builder/build_session.h"
#include "builder/config_apply.h"
#include "builder/context.h"
#include "builder/error.h"
#include "builder/export_outputs.h"
#include "builder/finalize.h"
#include "builder/lint_gate.h"
#include "builder/platform_plan.h"
#include "builder/push.h"
#include "builder/read_input.h"
#include "builder/registry_cache.h"
#include "builder/signals.h"
#include "builder/stage_executor.h"
#include "builder/stage_waves.h"
#include "builder/step_cache.h"
#include "frontend/context_file.h"
#include "frontend/error.h"
#include "frontend/instructions.h"
#include "sandbox/binfmt.h"
#include "sandbox/isolation_level.h"
#include "frontend/stage_graph.h"
#include "frontend/stage_vars.h"
#include "sandbox/file_io.h"
#include "oci/image_index.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"
#include "oci/supply/referrers.h"
#include "oci/supply/supply_chain.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

std::string DockerfileDisplayName(const std::string& path) {
  if (path == "-") return "-";
  return fs::path(path).filename().string();
}

// The targets' instances and those they are built FROM: their layers are
// the images'. The others are read only through COPY --from and mount from=.
bool ExportedInstance(const PlatformPlan& plan, int id) {
  for (const PlatformTarget& t : plan.targets) {
    for (int i = t.instance; i >= 0;) {
      if (i == id) return true;
      const StageInstance& inst = plan.instances.at(size_t(i));
      if (!inst.node.base_stage) break;
      auto it = inst.deps.find(*inst.node.base_stage);
      i = it == inst.deps.end() ? -1 : it->second;
    }
  }
  return false;
}

// --add-host, --ulimit, --shm-size as one cache key field ("" without them).
std::string RunSandboxKey(const BuildOptions& opts) {
  std::string k;
  for (const auto& h : opts.add_hosts) k += "host=" + h + "\n";
  for (const auto& u : opts.ulimits)
    k += "ulimit=" + std::to_string(u.resource) + ":" + std::to_string(u.soft) + ":" + std::to_string(u.hard) + "\n";
  if (opts.shm_size) k += "shm=" + std::to_string(opts.shm_size) + "\n";
  return k;
}

oci::RegistryOptions RegistryOptionsFor(const BuildOptions& opts) {
  return oci::RegistryOptions().AllowInsecure(opts.insecure_registry);
}

// ---- 1. Read: the Dockerfile, parsed.
struct DockerfileInput {
  std::string path, display, text;
  frontend::Dockerfile df;
};

DockerfileInput ReadDockerfile(const BuildOptions& opts) {
  DockerfileInput in;
  in.path = opts.dockerfile.empty() ? frontend::FindDockerfile(opts.context_dir) : opts.dockerfile;
  in.display = DockerfileDisplayName(in.path);
  in.text = ReadDockerfileText(in.path);
  in.df = frontend::ParseDockerfile(in.text, in.display);
  for (const auto& w : in.df.warnings) std::cerr << in.display << ":" << w.line << ": warning: " << w.message << "\n";
  return in;
}

// ---- 2. Plan: the stage instances of every target platform.
PlatformPlan PlanBuild(const BuildOptions& opts, const frontend::Dockerfile& df) {
  frontend::BuildArgs args = frontend::DefaultBuildArgs();
  for (const auto& [k, v] : opts.build_args) args.values[k] = v;
  PlatformPlan plan = PlanPlatforms(df, args, opts.target, opts.platforms, oci::Platform::Host());
  for (const auto& u : plan.unused_build_args)
    std::cerr << "warning: build-arg " << u << " was given but no stage declares it\n";
  return plan;
}

// ---- 3. Gate: whether every RUN can run here, before anything is touched.
EmulationMap GateRuns(const frontend::Dockerfile& df, const PlatformPlan& plan) {
  const auto& iso = sandbox::CurrentIsolation();
  const std::string host_machine = oci::UnameMachine(oci::Platform::Host());
  // For tests only: a fake binfmt_misc directory (no handler is missing on CI).
  const char* binfmt_dir = std::getenv("KILN_BINFMT_DIR");
  EmulationMap out;
  for (size_t id = 0; id < plan.instances.size(); ++id) {
    const StageInstance& inst = plan.instances[id];
    const frontend::Stage& stage = df.stages.at(size_t(inst.stage));
    const frontend::Instruction* run = nullptr;
    for (const auto& i : stage.instructions)
      if (!run && std::holds_alternative<frontend::RunCmd>(i.command)) run = &i;
    if (!run) continue;
    // At isolation none a RUN cannot run: say so before any step does.
    if (iso.level == sandbox::IsolationLevel::kNone) throw frontend::Error(run->location, iso.run_refusal);
    const std::string machine = oci::UnameMachine(inst.platform);
    if (machine == host_machine || out.count(inst.platform.str())) continue;
    try {
      sandbox::Emulation e = sandbox::EmulationFor(machine, binfmt_dir ? binfmt_dir : "/proc/sys/fs/binfmt_misc");
      out[inst.platform.str()] = e.native ? std::nullopt : std::optional(e);
    } catch (const std::exception& e) {
      frontend::Location where = stage.location;
      where.column = 0;
      throw frontend::Error(where, "stage " + InstanceLabel(df, plan, int(id)) + " for " + inst.platform.str() +
                                       " has RUN steps, which this machine cannot run: " + e.what());
    }
  }
  return out;
}

// ---- 4. Resolve bases: every FROM image for its stage's platform, so that a
// base missing (or lacking the platform) stops the build before any step.
void ResolveBases(BuildSession& s, const frontend::Dockerfile& df, const PlatformPlan& plan, Progress& progress) {
  for (size_t id = 0; id < plan.instances.size(); ++id) {
    const StageInstance& inst = plan.instances[id];
    if (inst.node.base_stage || inst.node.scratch) continue;
    try {
      s.For(inst.platform).resolver->Resolve(inst.node.base_image);
    } catch (const frontend::Error&) {
      throw;
    } catch (const std::exception& e) {
      progress.Failed(progress.Begin("[" + InstanceLabel(df, plan, int(id)) + "] FROM " + inst.node.base_image), e.what());
      const frontend::Stage& stage = df.stages.at(size_t(inst.stage));
      frontend::Location where = stage.location;
      where.column = 0;
      throw frontend::Error(where, std::string("FROM ") + inst.node.base_image + ": " + e.what());
    }
  }
}

// ---- 5. Run stages: the plan's waves, up to --jobs stage instances at a time.
struct StageRun {
  std::map<int, ImageState> states;  // by instance
  int steps_run = 0, steps_cached = 0;
};

StageRun RunStages(BuildSession& s, const BuildOptions& opts, const frontend::Dockerfile& df,
                   const PlatformPlan& plan, const std::string& created, Progress& progress) {
  const std::string layer_time = opts.source_date_epoch ? "epoch=" + std::to_string(*opts.source_date_epoch) : "keep";
  const oci::Platform host = oci::Platform::Host();
  StageRun run;
  std::mutex mu;
  std::atomic<bool> stop{false};  // a stage failed: the others stop before their next step
  auto state_of = [&](int id) -> const ImageState* {
    std::lock_guard lock(mu);
    auto it = run.states.find(id);
    return it == run.states.end() ? nullptr : &it->second;
  };
  auto build_stage = [&](int id) {
    const StageInstance& inst = plan.instances.at(size_t(id));
    const frontend::Stage& stage = df.stages.at(size_t(inst.stage));
    const frontend::StageNode& node = inst.node;
    const std::string label = InstanceLabel(df, plan, id);
    BuildSession::PlatformTools& tools = s.For(inst.platform);
    ImageState base;
    const int from_id = progress.Begin("[" + label + "] FROM " +
                                       (node.base_stage ? df.stages.at(size_t(*node.base_stage)).name
                                                        : (node.scratch ? "scratch" : node.base_image)));
    try {
      if (node.base_stage) {
        const ImageState* st = state_of(inst.deps.at(*node.base_stage));
        if (!st) throw Error({"stage " + std::to_string(*node.base_stage) + " was not built before the stage built on it", "", "a kiln bug"});
        base = *st;
      } else if (node.scratch) {
        base.config = ScratchConfig(inst.platform);
        base.digest = BaseStateDigest("scratch", inst.platform.str());
      } else {
        base = tools.resolver->Resolve(node.base_image);
        s.layers.NameImage(base, node.base_image);
      }
    } catch (const frontend::Error&) {
      progress.Failed(from_id, "base image");
      throw;
    } catch (const std::exception& e) {
      progress.Failed(from_id, e.what());
      frontend::Location where = stage.location;
      where.column = 0;
      throw frontend::Error(where, stage.from.image.empty() ? e.what() : std::string("FROM ") + node.base_image + ": " + e.what());
    }
    progress.Done(from_id);

    StageSettings settings;
    settings.no_cache = opts.no_cache || opts.no_cache_filter.count(stage.name) ||
                        opts.no_cache_filter.count(std::to_string(inst.stage));
    settings.created = created;
    settings.layer_time = layer_time;
    settings.label = label;
    settings.escape = df.escape;
    settings.run_sandbox = RunSandboxKey(opts);
    if (oci::MatchRank(host, inst.platform) != 0) settings.platform = inst.platform.str();
    settings.stop = &stop;
    settings.exported = ExportedInstance(plan, id);
    // COPY --from and mounts name stages by index: this instance's ones.
    StageExecutor exec(*tools.runner, &s.cache, &s.context, progress, [&](int stage_index) -> const ImageState* {
      auto it = inst.deps.find(stage_index);
      return it == inst.deps.end() ? nullptr : state_of(it->second);
    });
    const PlatformTarget& t = plan.targets.at(inst.target);
    ImageState final_state = exec.Build(df, inst.stage, std::move(base), frontend::StageVars(t.args, t.globals, df.escape), settings);
    std::lock_guard lock(mu);
    run.steps_run += exec.steps_run();
    run.steps_cached += exec.steps_cached();
    run.states[id] = std::move(final_state);
  };
  // A failure stops the other stages (the one stopped returns: the batch
  // then reports the failure itself); with several platforms an error says
  // which one failed.
  auto build_named = [&](int id) {
    const std::string p = plan.labelled ? plan.instances.at(size_t(id)).platform.str() + ": " : "";
    try {
      build_stage(id);
    } catch (const StageStopped&) {
      return;
    } catch (const StepError& e) {
      stop = true;
      if (p.empty()) throw;
      throw StepError(e.where(), p + e.message(), e.tail());
    } catch (const frontend::Error& e) {
      stop = true;
      if (p.empty()) throw;
      throw frontend::Error(e.where(), p + e.message());
    } catch (...) {
      stop = true;
      throw;
    }
  };
  RunStageWaves(plan.waves, size_t(std::max(1, opts.jobs)), build_named);
  return run;
}

// ---- 6. Finalize: each target platform's image (config, manifest, the
// supply-chain step), then with several platforms the index of them.
struct PlatformImage {
  FinalizeResult image;
  oci::Platform platform;  // as its config says (the index entry's platform)
};

PlatformImage FinalizeTarget(BuildSession& s, const BuildOptions& opts, const DockerfileInput& in,
                             const PlatformPlan& plan, const PlatformTarget& t, const ImageState& built,
                             const std::string& created, int64_t started) {
  ImageState target = built;
  target.config.created = created;
  for (const auto& [k, v] : opts.labels) target.config.config.labels[k] = v;
  // The image says the platform it was built for (a stage on $BUILDPLATFORM
  // as the target, a base whose config names another variant).
  const oci::Platform said{target.config.os, target.config.architecture, target.config.variant};
  if (!opts.platforms.empty() && oci::MatchRank(t.platform, said) != 0) {
    target.config.os = t.platform.os;
    target.config.architecture = t.platform.architecture;
    target.config.variant = t.platform.variant;
  }
  const oci::Descriptor config_desc = s.store.PutBlob(oci::ToJson(target.config), oci::media::kOciConfig);
  oci::Manifest manifest;
  manifest.config = config_desc;
  manifest.layers = target.layers;
  manifest.annotations = opts.manifest_annotations;

  // strip setuid, secret scan, SBOM/provenance: may replace the manifest
  FinalizeInput fin_in;
  fin_in.manifest = s.store.PutBlob(oci::ToJson(manifest), oci::media::kOciManifest);
  fin_in.created = created;
  fin_in.started = started;
  fin_in.dockerfile_path = in.display;
  fin_in.dockerfile_text = in.text;
  // The images this platform's stages used (a $BUILDPLATFORM stage's too).
  std::set<std::string> platforms;
  std::set<int> todo = {t.instance};
  while (!todo.empty()) {
    const StageInstance& inst = plan.instances.at(size_t(*todo.begin()));
    todo.erase(todo.begin());
    platforms.insert(inst.platform.str());
    for (const auto& [stage, dep] : inst.deps) todo.insert(dep);
  }
  for (const auto& p : platforms)
    for (auto& u : s.tools.at(p).resolver->Used()) fin_in.images.push_back(std::move(u));
  size_t context_files = 0;
  fin_in.context_digest = s.context.ReadDigest(&context_files);
  fin_in.context_files = int64_t(context_files);
  // -q: only the digest on stdout and nothing on stderr unless it fails.
  std::ostringstream quiet_log;
  const bool quiet = opts.progress == ProgressMode::kQuiet;
  PlatformImage out;
  try {
    out.image = FinalizeImage(s.store, opts, fin_in, quiet ? quiet_log : std::cerr);
  } catch (...) {
    std::cerr << quiet_log.str();
    throw;
  }
  out.platform = {target.config.os, target.config.architecture, target.config.variant};
  return out;
}

// The index (a Docker manifest list with --format docker) of the platforms'
// manifests, in --platform order.
oci::Descriptor PutPlatformIndex(const oci::Store& store, const BuildOptions& opts,
                                 const std::vector<PlatformImage>& images) {
  std::vector<oci::Descriptor> manifests;
  for (const auto& img : images) {
    oci::Descriptor d = img.image.manifest;
    d.annotations.clear();
    d.platform = img.platform;
    manifests.push_back(std::move(d));
  }
  if (opts.format == "docker") return oci::PutIndex(store, std::move(manifests), oci::IndexFormat::kDocker);
  return oci::PutIndex(store, std::move(manifests), oci::IndexFormat::kOci, opts.index_annotations);
}

// ---- 7. Publish: tags, signature, outputs, pushes, cache export, files.
void Publish(BuildSession& s, const BuildOptions& opts, BuildResult& result, Progress& progress) {
  oci::Store& store = s.store;
  std::vector<std::string> names = opts.tags;
  for (const auto& out : opts.outputs)
    if (out.type == "image") names.insert(names.end(), out.names.begin(), out.names.end());
  for (const auto& t : names) {
    const std::string tag = NormalizeTag(t);
    store.SetTag(tag, result.manifest);
    result.tags.push_back(tag);
  }
  s.stat_cache.Save();
  progress.Finish();

  std::vector<oci::Signature> signatures;  // the image's, or an index's and each platform's
  const std::vector<std::string> push_to = PushTargets(opts);
  if (!opts.sign_key.empty()) {
    const std::string& first = !push_to.empty() ? push_to.front() : !names.empty() ? names.front() : "";
    if (first.empty())
      throw Error({"--sign-by", "", "the signature must say which repository it is for", "name the image with -t NAME"});
    const char* pw = std::getenv("KILN_PASSWORD");
    if (!pw) throw Error({"--sign-by", opts.sign_key, "no password", "set KILN_PASSWORD to the key's password (may be empty)"});
    signatures = oci::SignAll(store, result.manifest, RepositoryName(first), opts.sign_key, pw);
    for (const auto& sig : signatures)
      progress.Note("signed " + RepositoryName(first) + "@" + sig.subject.str() + " with " + opts.sign_key);
  }

  ExportOutputs(store, opts, result.manifest, result.tags, progress);
  for (const auto& name : push_to) {
    // registries.conf: blocked refuses, insecure allows, location redirects.
    const oci::PullSource target = s.base_opts.registries.PushTarget(oci::Reference::Parse(name));
    oci::RegistryClient client(RegistryOptionsFor(opts).AllowInsecure(opts.insecure_registry || target.insecure));
    progress.Note("pushing " + name);
    PushWithReferrers(client, store, result.manifest, target.ref, [&progress](const std::string& s) { progress.Note(s); });
    for (const auto& sig : signatures) {  // cosign's place for each: REPO:sha256-<hex>.sig
      oci::Reference sig_ref = target.ref;
      sig_ref.digest.clear();
      sig_ref.tag = oci::SignatureTag(sig.subject);
      client.Push(store, sig.sig_manifest, sig_ref);
    }
  }

  if (!opts.cache_to.empty()) {
    oci::RegistryClient client(RegistryOptionsFor(opts));
    for (const auto& spec : opts.cache_to) {
      const CacheTransfer t = ExportRegistryCache(store, s.cache, client, ParseRegistryCacheSpec(spec), s.cache.Used());
      progress.Note("cache to " + spec + ": " + std::to_string(t.entries) + " entries, " +
                    std::to_string(t.layers) + " layers");
    }
  }

  // An index has no config: its ID is its own digest (as buildx's).
  const oci::Digest& image_id = result.platform_manifests.size() > 1 ? result.manifest.digest : result.config_digest;
  if (!opts.iidfile.empty()) sandbox::WriteFileAtomic(opts.iidfile, image_id.str());
  if (!opts.metadata_file.empty()) {
    nlohmann::json md;
    md["containerimage.digest"] = result.manifest.digest.str();
    if (result.platform_manifests.size() == 1) md["containerimage.config.digest"] = result.config_digest.str();
    md["containerimage.descriptor"] = nlohmann::json::parse(oci::DescriptorToJson(result.manifest));
    std::string joined;
    for (const auto& t : result.tags) joined += (joined.empty() ? "" : ",") + t;
    md["image.name"] = joined;
    sandbox::WriteFileAtomic(opts.metadata_file, md.dump(2) + "\n");
  }
}

}  // namespace

std::string HumanSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, kUnits[u]);
  return buf;
}

BuildResult Build(const BuildOptions& opts, Progress& progress) {
  const DockerfileInput in = ReadDockerfile(opts);
  const PlatformPlan plan = PlanBuild(opts, in.df);
  const EmulationMap emulation = GateRuns(in.df, plan);  // before the store is opened
  BuildSession s(opts, in.path, plan, emulation, progress);

  // The gate asks for a base's User only when the final stage has no USER
  // line; the base is resolved then, as the build would resolve it anyway.
  LintGate(opts, in.df, in.text, in.display, s.store, [&](const std::string& spelled) -> const ImageState* {
    for (const StageInstance& inst : plan.instances) {
      if (inst.target != 0 || in.df.stages.at(size_t(inst.stage)).from.image != spelled) continue;
      if (inst.node.base_stage || inst.node.scratch) continue;
      return &s.For(inst.platform).resolver->Resolve(inst.node.base_image);
    }
    return nullptr;
  });
  if (!opts.cache_from.empty() && !opts.no_cache) {
    oci::RegistryClient client(RegistryOptionsFor(opts));
    for (const auto& spec : opts.cache_from) {
      const CacheTransfer t = ImportRegistryCache(s.store, s.cache, client, ParseRegistryCacheSpec(spec));
      progress.Note("cache from " + spec + ": " + std::to_string(t.entries) + " new entries, " +
                    std::to_string(t.layers) + " layers");
    }
  }

  const std::string created = oci::Rfc3339(opts.source_date_epoch ? *opts.source_date_epoch : int64_t(std::time(nullptr)));
  const int64_t started = int64_t(std::time(nullptr));
  BuildResult result;
  StageRun run;
  try {
    ResolveBases(s, in.df, plan, progress);
    run = RunStages(s, opts, in.df, plan, created, progress);
  } catch (...) {
    progress.Finish();
    s.stat_cache.Save();  // digests learnt so far stay valid
    ThrowIfCancelled();
    throw;
  }
  ThrowIfCancelled();
  result.steps_run = run.steps_run;
  result.steps_cached = run.steps_cached;

  std::vector<PlatformImage> images;
  for (const PlatformTarget& t : plan.targets)
    images.push_back(FinalizeTarget(s, opts, in, plan, t, run.states.at(t.instance), created, started));
  for (const auto& img : images) result.platform_manifests.push_back(img.image.manifest);
  if (images.size() == 1) {
    result.manifest = images[0].image.manifest;
    result.config_digest = images[0].image.config_digest;
    result.size = images[0].image.size;
  } else {
    result.manifest = PutPlatformIndex(s.store, opts, images);
    result.config_digest = result.manifest.digest;
    result.size = result.manifest.size;
    for (const auto& img : images) result.size += img.image.size;
  }
  Publish(s, opts, result, progress);
  return result;
}

}  // namespace kiln::builder
