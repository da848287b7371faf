#include "builder/builder.h"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "builder/base_image.h"
#include "builder/config_apply.h"
#include "builder/context.h"
#include "builder/export_outputs.h"
#include "builder/finalize.h"
#include "builder/fs_runner.h"
#include "builder/layer_cache.h"
#include "builder/push.h"
#include "builder/read_input.h"
#include "builder/registry_cache.h"
#include "builder/signals.h"
#include "builder/stage_executor.h"
#include "builder/stage_waves.h"
#include "builder/step_cache.h"
#include "frontend/context_file.h"
#include "frontend/dockerignore.h"
#include "frontend/error.h"
#include "frontend/instructions.h"
#include "frontend/lint/linter.h"
#include "sandbox/isolation_level.h"
#include "sandbox/working_root.h"
#include "frontend/stage_graph.h"
#include "frontend/stage_vars.h"
#include "sandbox/file_io.h"
#include "oci/layer/image_fs.h"
#include "oci/store/layout.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"
#include "oci/supply/referrers.h"
#include "oci/supply/supply_chain.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

void CheckPlatform(const std::string& requested) {
  if (requested.empty()) return;
  const oci::Platform host = oci::Platform::Host();
  const std::string short_host = host.os + "/" + host.architecture;
  if (requested == host.str() || requested == short_host) return;
  throw std::runtime_error("--platform " + requested + ": kiln builds only for the host platform (" +
                           host.str() + "); it does not emulate other architectures");
}

std::string DockerfileDisplayName(const std::string& path) {
  if (path == "-") return "-";
  return fs::path(path).filename().string();
}

// What /bin/sh runs in an image ("dash", "bash", "busybox"), "" when it is
// not a symlink: read from the layers, top first, without unpacking them.
std::string BinShOf(const oci::Store& store, const ImageState& image) {
  std::vector<oci::LayerBlob> blobs;
  for (const auto& d : image.layers) blobs.push_back({store.BlobPath(d.digest), d.digest.str()});
  std::map<std::string, std::string> links;  // "bin", "bin/sh", "usr/bin/sh" -> symlink target
  oci::ForEachFinalEntry(blobs, [&](const oci::TarEntry& e, const oci::ReadFn&, size_t) {
    if (e.path == "bin" || e.path == "bin/sh" || e.path == "usr/bin/sh")
      links[e.path] = S_ISLNK(e.mode) ? e.link_target : "";
  });
  // Debian's merged /usr: /bin -> usr/bin, so /bin/sh is usr/bin/sh.
  const bool bin_is_link = links.count("bin") && !links["bin"].empty();
  const std::string target = links[bin_is_link ? "usr/bin/sh" : "bin/sh"];
  return std::string(fs::path(target).filename());
}

// base: the image a FROM names as the Dockerfile spells it, resolved (the
// gate asks only when a rule needs it); nullptr for a stage or scratch.
void LintGate(const BuildOptions& opts, const frontend::Dockerfile& df, const std::string& text,
              const std::string& display, const oci::Store& store,
              const std::function<const ImageState*(const std::string& spelled)>& base) {
  if (opts.lint == LintMode::kOff) return;
  frontend::lint::LintOptions lo;
  lo.source_text = text;
  lo.context_dir = opts.context_dir;
  lo.base_user = [&](const std::string& spelled) -> std::optional<std::string> {
    const ImageState* st = base(spelled);
    if (!st) return std::nullopt;
    return st->config.config.user;
  };
  std::map<std::string, std::string> bin_sh;  // memo by spelling: one read of the layers per base
  // Only warnings use it (KL300), and only --lint=warn shows them: the
  // default gate reads no layers for a message it would not print.
  if (opts.lint == LintMode::kWarn) lo.base_bin_sh = [&](const std::string& spelled) -> std::optional<std::string> {
    if (auto it = bin_sh.find(spelled); it != bin_sh.end()) return it->second;
    const ImageState* st = base(spelled);
    if (!st) return std::nullopt;
    return bin_sh[spelled] = BinShOf(store, *st);
  };
  auto result = frontend::lint::Lint(df, lo);
  result.filename = display;
  const bool errors = frontend::lint::HasErrors(result);
  if (opts.lint == LintMode::kWarn) {
    if (!result.findings.empty()) std::cerr << frontend::lint::FormatText(result);
    return;
  }
  if (!errors) return;
  frontend::lint::LintResult only_errors = result;
  only_errors.findings.clear();
  for (const auto& f : result.findings)
    if (f.severity == frontend::lint::Severity::kError) only_errors.findings.push_back(f);
  std::cerr << frontend::lint::FormatText(only_errors);
  throw std::runtime_error("lint found " + std::to_string(only_errors.findings.size()) +
                           " error(s) in " + display + "; fix them, or build with --lint=warn");
}

// The target and the stages it is built FROM: their layers are the image's.
// The others are read only through COPY --from and mount from=.
bool ExportedStage(const frontend::StageGraph& graph, int idx) {
  for (std::optional<int> s = graph.target; s; s = graph.nodes.at(size_t(*s)).base_stage)
    if (*s == idx) return true;
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
  CheckPlatform(opts.platform);
  const std::string df_path = opts.dockerfile.empty() ? frontend::FindDockerfile(opts.context_dir)
                                                      : opts.dockerfile;
  const std::string display = DockerfileDisplayName(df_path);
  std::string text;
  try {
    text = ReadInputFile(df_path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("Dockerfile: ") + e.what());
  }
  const frontend::Dockerfile df = frontend::ParseDockerfile(text, display);
  for (const auto& w : df.warnings) std::cerr << display << ":" << w.line << ": warning: " << w.message << "\n";

  frontend::BuildArgs args = frontend::DefaultBuildArgs();
  for (const auto& [k, v] : opts.build_args) args.values[k] = v;
  const frontend::StageGraph graph = frontend::BuildStageGraph(df, args, opts.target);
  for (const auto& u : graph.unused_build_args)
    std::cerr << "warning: build-arg " << u << " was given but no stage declares it\n";
  const frontend::GlobalArgs globals = frontend::ResolveGlobalArgs(df, args);
  // At isolation none a RUN cannot run: say so before any step does.
  if (const auto& iso = sandbox::CurrentIsolation(); iso.level == sandbox::IsolationLevel::kNone) {
    for (int idx : graph.order)
      for (const auto& inst : df.stages.at(size_t(idx)).instructions)
        if (std::holds_alternative<frontend::RunCmd>(inst.command)) throw frontend::Error(inst.location, iso.run_refusal);
  }

  oci::Store store(oci::Store::DefaultRoot());
  oci::Store::Lock store_lock(store, false);
  store.SweepStaleTemp();
  // Without mounts a stage's steps hand one working root on, instead of
  // copying the image for each step (sandbox/working_root.h).
  std::optional<oci::Store::TempDir> kept_roots;
  struct KeptRootsOff {
    ~KeptRootsOff() { sandbox::WorkingRoot::SetKeepDirectory({}); }
  } kept_roots_off;
  if (!sandbox::CurrentIsolation().mounts) {
    kept_roots.emplace(store.MakeTempDir("roots"));
    sandbox::WorkingRoot::SetKeepDirectory(kept_roots->path());
  }

  // The context: .dockerignore filter and the persistent stat cache.
  frontend::IgnoreMatcher ignore;
  const std::string ignore_file = frontend::FindIgnoreFile(opts.context_dir, df_path == "-" ? "" : df_path);
  if (!ignore_file.empty()) ignore = frontend::IgnoreMatcher(frontend::ReadIgnoreFile(sandbox::ReadFileToString(ignore_file)));
  const std::string ctx_abs = fs::absolute(opts.context_dir).lexically_normal().string();
  StatCache stat_cache(store.Path("cache/context") / (oci::Sha256Of(ctx_abs).hex + ".stat"));
  BuildContext context(ctx_abs, ignore, &stat_cache);

  StepCache cache(store);
  LayerCache layers(store);
  BaseImageOptions bo;
  bo.always_pull = opts.pull;
  bo.insecure = opts.insecure_registry;
  bo.note = [&progress](const std::string& s) { progress.Note(s); };
  bo.registries = oci::RegistriesConf::Load();
  for (const auto& m : opts.registry_mirrors) bo.registries.AddMirror(m);
  // A pulled image is unpacked (and so checked) before it is tagged: a forged
  // or corrupt one leaves no tag behind, only unreferenced blobs.
  bo.verify = [&layers](const std::string& name, const ImageState& st) {
    layers.NameImage(st, name);
    layers.Lowers(st);
  };
  bo.named_contexts = opts.build_contexts;
  BaseImageResolver resolver(store, bo);
  FsStepRunner runner(store, layers, &context, resolver, opts);
  // The gate asks for a base's User only when the final stage has no USER
  // line; the base is resolved then, as the build would resolve it anyway.
  LintGate(opts, df, text, display, store, [&](const std::string& spelled) -> const ImageState* {
    for (size_t i = 0; i < df.stages.size(); ++i) {
      const frontend::StageNode& node = graph.nodes.at(i);
      if (df.stages[i].from.image != spelled || node.base_stage || node.scratch) continue;
      return &resolver.Resolve(node.base_image);
    }
    return nullptr;
  });
  if (!opts.cache_from.empty() && !opts.no_cache) {
    oci::RegistryClient client(RegistryOptionsFor(opts));
    for (const auto& spec : opts.cache_from) {
      const CacheTransfer t = ImportRegistryCache(store, cache, client, ParseRegistryCacheSpec(spec));
      progress.Note("cache from " + spec + ": " + std::to_string(t.entries) + " new entries, " +
                    std::to_string(t.layers) + " layers");
    }
  }

  const std::string created = oci::Rfc3339(opts.source_date_epoch ? *opts.source_date_epoch : int64_t(std::time(nullptr)));
  const int64_t started = int64_t(std::time(nullptr));
  const std::string layer_time = opts.source_date_epoch ? "epoch=" + std::to_string(*opts.source_date_epoch) : "keep";

  std::mutex states_mu;
  std::map<int, ImageState> states;
  auto stage_state = [&](int i) -> const ImageState* {
    std::lock_guard lock(states_mu);
    auto it = states.find(i);
    return it == states.end() ? nullptr : &it->second;
  };

  BuildResult result;
  std::mutex result_mu;
  auto build_stage = [&](int idx) {
    const frontend::Stage& stage = df.stages.at(size_t(idx));
    const frontend::StageNode& node = graph.nodes.at(size_t(idx));
    const std::string label = stage.name.empty() ? "stage-" + std::to_string(idx) : stage.name;
    ImageState base;
    const int from_id = progress.Begin("[" + label + "] FROM " +
                                       (node.base_stage ? df.stages.at(size_t(*node.base_stage)).name
                                                        : (node.scratch ? "scratch" : node.base_image)));
    try {
      if (node.base_stage) {
        const ImageState* s = stage_state(*node.base_stage);
        if (!s) throw std::runtime_error("stage " + std::to_string(*node.base_stage) + " was not built");
        base = *s;
      } else if (node.scratch) {
        base.config = ScratchConfig(oci::Platform::Host());
        base.digest = BaseStateDigest("scratch", oci::Platform::Host().str());
      } else {
        base = resolver.Resolve(node.base_image);
        layers.NameImage(base, node.base_image);
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
                        opts.no_cache_filter.count(std::to_string(idx));
    settings.created = created;
    settings.layer_time = layer_time;
    settings.label = label;
    settings.escape = df.escape;
    settings.run_sandbox = RunSandboxKey(opts);
    settings.exported = ExportedStage(graph, idx);
    StageExecutor exec(runner, &cache, &context, progress, stage_state);
    ImageState final_state = exec.Build(df, idx, std::move(base), frontend::StageVars(args, globals, df.escape), settings);
    {
      std::lock_guard lock(result_mu);
      result.steps_run += exec.steps_run();
      result.steps_cached += exec.steps_cached();
    }
    std::lock_guard lock(states_mu);
    states[idx] = std::move(final_state);
  };

  try {
    RunStageWaves(graph.waves, size_t(std::max(1, opts.jobs)), build_stage);
  } catch (...) {
    progress.Finish();
    stat_cache.Save();  // digests learnt so far stay valid
    ThrowIfCancelled();
    throw;
  }
  ThrowIfCancelled();

  ImageState target = states.at(graph.target);
  target.config.created = created;
  for (const auto& [k, v] : opts.labels) target.config.config.labels[k] = v;
  const oci::Descriptor config_desc = store.PutBlob(oci::ToJson(target.config), oci::media::kOciConfig);
  oci::Manifest manifest;
  manifest.config = config_desc;
  manifest.layers = target.layers;
  manifest.annotations = opts.manifest_annotations;
  result.manifest = store.PutBlob(oci::ToJson(manifest), oci::media::kOciManifest);
  result.config_digest = config_desc.digest;
  result.size = config_desc.size + result.manifest.size;
  for (const auto& l : target.layers) result.size += l.size;
  {  // strip setuid, secret scan, SBOM/provenance: may replace the manifest
    FinalizeInput fin_in;
    fin_in.manifest = result.manifest;
    fin_in.created = created;
    fin_in.started = started;
    fin_in.dockerfile_path = display;
    fin_in.dockerfile_text = text;
    fin_in.images = resolver.Used();
    size_t context_files = 0;
    fin_in.context_digest = context.ReadDigest(&context_files);
    fin_in.context_files = int64_t(context_files);
    // -q: only the digest on stdout and nothing on stderr unless it fails.
    std::ostringstream quiet_log;
    const bool quiet = opts.progress == ProgressMode::kQuiet;
    FinalizeResult fin;
    try {
      fin = FinalizeImage(store, opts, fin_in, quiet ? quiet_log : std::cerr);
    } catch (...) {
      std::cerr << quiet_log.str();
      throw;
    }
    result.manifest = fin.manifest;
    result.config_digest = fin.config_digest;
    result.size = fin.size;
  }

  std::vector<std::string> names = opts.tags;
  for (const auto& out : opts.outputs)
    if (out.type == "image") names.insert(names.end(), out.names.begin(), out.names.end());
  for (const auto& t : names) {
    const std::string tag = NormalizeTag(t);
    store.SetTag(tag, result.manifest);
    result.tags.push_back(tag);
  }
  stat_cache.Save();
  progress.Finish();

  std::optional<oci::Signature> signature;
  const std::vector<std::string> push_to = PushTargets(opts);
  if (!opts.sign_key.empty()) {
    const std::string& first = !push_to.empty() ? push_to.front() : !names.empty() ? names.front() : "";
    if (first.empty()) throw std::runtime_error("--sign-by: name the image (-t NAME) so the signature can say which repository it is for");
    const char* pw = std::getenv("KILN_PASSWORD");
    if (!pw) throw std::runtime_error("--sign-by " + opts.sign_key + ": set KILN_PASSWORD to the key's password (may be empty)");
    signature = oci::Sign(store, result.manifest, RepositoryName(first), opts.sign_key, pw);
    progress.Note("signed " + RepositoryName(first) + "@" + result.manifest.digest.str() + " with " + opts.sign_key);
  }

  ExportOutputs(store, opts, result.manifest, result.tags, progress);
  for (const auto& name : push_to) {
    // registries.conf: blocked refuses, insecure allows, location redirects.
    const oci::PullSource target = bo.registries.PushTarget(oci::Reference::Parse(name));
    oci::RegistryClient client(RegistryOptionsFor(opts).AllowInsecure(opts.insecure_registry || target.insecure));
    progress.Note("pushing " + name);
    PushWithReferrers(client, store, result.manifest, target.ref, [&progress](const std::string& s) { progress.Note(s); });
    if (signature) {  // cosign's place for it: REPO:sha256-<hex>.sig
      oci::Reference sig_ref = target.ref;
      sig_ref.digest.clear();
      sig_ref.tag = oci::SignatureTag(result.manifest.digest);
      client.Push(store, signature->sig_manifest, sig_ref);
    }
  }

  if (!opts.cache_to.empty()) {
    oci::RegistryClient client(RegistryOptionsFor(opts));
    for (const auto& spec : opts.cache_to) {
      const CacheTransfer t = ExportRegistryCache(store, cache, client, ParseRegistryCacheSpec(spec), cache.Used());
      progress.Note("cache to " + spec + ": " + std::to_string(t.entries) + " entries, " +
                    std::to_string(t.layers) + " layers");
    }
  }

  if (!opts.iidfile.empty()) sandbox::WriteFileAtomic(opts.iidfile, result.config_digest.str());
  if (!opts.metadata_file.empty()) {
    nlohmann::json md;
    md["containerimage.digest"] = result.manifest.digest.str();
    md["containerimage.config.digest"] = result.config_digest.str();
    md["containerimage.descriptor"] = nlohmann::json::parse(oci::DescriptorToJson(result.manifest));
    std::string names;
    for (const auto& t : result.tags) names += (names.empty() ? "" : ",") + t;
    md["image.name"] = names;
    sandbox::WriteFileAtomic(opts.metadata_file, md.dump(2) + "\n");
  }
  return result;
}

}  // namespace kiln::builder
