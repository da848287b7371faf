// `kiln build`: flags -> BuildOptions, enter the build namespace, run the
// engine with the chosen progress view, print the result line.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <signal.h>

#include "builder/cmd/build_check.h"
#include "builder/cmd/build_flags_compat.h"
#include "builder/build_options.h"
#include "builder/export_outputs.h"
#include "builder/output_spec.h"
#include "builder/builder.h"
#include "builder/cmd/commands.h"
#include "builder/isolation_choice.h"
#include "builder/process_args.h"
#include "builder/progress.h"
#include "builder/signals.h"
#include "builder/ssh_mount.h"
#include "builder/stdin_context.h"
#include "builder/step_runner.h"
#include "oci/platform.h"
#include "oci/store/store.h"
#include "sandbox/overlay.h"
#include "sandbox/userns.h"

namespace kiln::builder {

namespace {

std::map<std::string, std::string> ParseKv(const std::string& spec, const std::string& flag) {
  try {
    return ParseCsvKv(spec, flag);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(flag, e.what());
  }
}

}  // namespace

void AddBuildCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
  struct Flags {
    BuildOptions opts;
    std::vector<std::string> build_args, outputs, secrets, no_cache_filter, platforms;
    std::string progress = "auto", lint = "error", timestamp, sde, strip = "on", secret_scan = "on";
    bool quiet = false;
    std::string isolation;  // empty: KILN_ISOLATION, else auto
  };
  auto f = std::make_shared<Flags>();
  auto compat = std::make_shared<CompatFlags>();
  cmd->add_option("CONTEXT", f->opts.context_dir, "Build context directory ('-': a tar archive or a Dockerfile on stdin)")->capture_default_str();
  cmd->add_option("-f,--file", f->opts.dockerfile, "Dockerfile (default: CONTEXT/Dockerfile or Containerfile; '-' = stdin)");
  cmd->add_option("-t,--tag", f->opts.tags, "Name and tag for the image (repeatable)")->allow_extra_args(false);
  cmd->add_option("--build-arg", f->build_args, "Build-time variable K=V (K alone takes the value from the environment)")->allow_extra_args(false);
  cmd->add_option("--target", f->opts.target, "Stage to build");
  cmd->add_option("-o,--output", f->outputs, "Output (buildx forms): type=oci,dest=DIR|FILE.tar|- | type=docker,dest=FILE|- | type=tar,dest=FILE|- | type=local,dest=DIR | type=image,name=REF[,push=true] | type=registry | DIR | -")->allow_extra_args(false);
  cmd->add_flag("--push", f->opts.push, "Push the -t tags to their registries");
  cmd->add_option("--iidfile", f->opts.iidfile, "Write the image ID (config digest) to this file");
  cmd->add_option("--metadata-file", f->opts.metadata_file, "Write build result metadata (JSON) to this file");
  cmd->add_option("--platform", f->platforms, "Target platforms: os/arch[/variant], comma-separated or repeated (2+: an image index)")->allow_extra_args(false);
  cmd->add_flag("--no-cache", f->opts.no_cache, "Do not use the build cache");
  cmd->add_option("--no-cache-filter", f->no_cache_filter, "Do not use the cache for these stages")->allow_extra_args(false);
  cmd->add_option("-j,--jobs", f->opts.jobs, "Independent stages built in parallel")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--progress", f->progress, "auto, tty, plain or quiet")->check(CLI::IsMember({"auto", "tty", "plain", "quiet"}));
  cmd->add_flag("-q,--quiet", f->quiet, "Print only the image digest");
  cmd->add_option("--lint", f->lint, "Lint gate: error (default), warn or off")->check(CLI::IsMember({"error", "warn", "off"}));
  cmd->add_option("--source-date-epoch", f->sde, "Timestamp (unix seconds) for created times and layer mtimes (default $SOURCE_DATE_EPOCH, else 0)");
  cmd->add_option("--timestamp", f->timestamp, "'now' for real times instead of SOURCE_DATE_EPOCH; unix seconds (buildah): as --source-date-epoch")
      ->check([](const std::string& v) {
        return v == "now" || v == "epoch" || (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos)
                   ? std::string()
                   : std::string("expected now, epoch or unix seconds");
      });
  cmd->add_option("--secret", f->secrets, "Secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR")->allow_extra_args(false);
  cmd->add_option("--isolation", f->isolation, "RUN isolation: auto (default: the strongest this machine allows), full, relaxed, chroot or none; env KILN_ISOLATION");
  cmd->add_option("--network", f->opts.network, "Default RUN network: default, host or none")->check(CLI::IsMember({"default", "host", "none"}));
  cmd->add_flag("--insecure", f->opts.insecure_registry, "Allow plain HTTP / unverified TLS registries");
  cmd->add_option("--registry-mirror", f->opts.registry_mirrors,
                  "Pull through this mirror: URL (of docker.io, as dockerd's flag) or REGISTRY=URL (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--cache-from", f->opts.cache_from, "Import build cache: type=registry,ref=REF")->allow_extra_args(false);
  cmd->add_option("--cache-to", f->opts.cache_to, "Export build cache: type=registry,ref=REF")->allow_extra_args(false);
  cmd->add_option("--compression", f->opts.compression, "Layer compression: gzip, zstd or none")->check(CLI::IsMember({"gzip", "zstd", "none"}));
  cmd->add_option("--format", f->opts.format, "Manifest format: oci (default) or docker (Docker schema 2)")->check(CLI::IsMember({"oci", "docker"}));

  cmd->add_option("--strip", f->strip, "Strip setuid/setgid bits from the image: on (default) or off")->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--keep-setuid", f->opts.keep_setuid, "Leave this setuid/setgid path as it is (repeatable)")->allow_extra_args(false);
  cmd->add_flag("--strip-shells", f->opts.strip_shells, "Also remove shells and download tools from the image");
  cmd->add_option("--secret-scan", f->secret_scan, "Fail the build on secrets in any layer: on (default) or off")->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--allow-secret", f->opts.allow_secrets, "Secret-scan finding to accept: a path or a rule id (repeatable)")->allow_extra_args(false);
  AddCompatFlags(cmd, compat);

  cmd->callback([f, compat] {
    BuildOptions opts = f->opts;
    for (const auto& a : f->build_args) {
      auto eq = a.find('=');
      if (eq == 0 || a.empty()) throw CLI::ValidationError("--build-arg", "'" + a + "' has no name; expected NAME=VALUE or NAME");
      if (eq != std::string::npos) {
        opts.build_args[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (const char* v = std::getenv(a.c_str())) {
        opts.build_args[a] = v;
      }
    }
    for (const auto& o : f->outputs) {
      try {
        opts.outputs.push_back(ParseOutputSpec(o));
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--output", e.what());
      }
    }
    for (const auto& p : f->platforms) {
      try {
        for (auto& one : oci::ParsePlatformList(p))
          if (std::find(opts.platforms.begin(), opts.platforms.end(), one) == opts.platforms.end()) opts.platforms.push_back(one);
      } catch (const std::exception& e) {
        throw CLI::ValidationError("--platform", e.what());
      }
    }
    std::vector<std::string> notes;
    ApplyCompatFlags(*compat, opts, notes);
    int stdout_outputs = 0;
    for (const auto& o : opts.outputs) stdout_outputs += o.dest == "-";
    if (stdout_outputs > 1) throw CLI::ValidationError("--output", "only one output can go to stdout (dest=-)");
    if (stdout_outputs && ::isatty(STDOUT_FILENO))
      throw CLI::ValidationError("--output", "dest=- writes a tar to stdout, which is a terminal; redirect it (> FILE or | docker load)");
    opts.strip_setuid = f->strip != "off";
    opts.secret_scan = f->secret_scan != "off";
    for (const auto& s : f->secrets) {
      auto kv = ParseKv(s, "--secret");
      SecretSpec sec{kv["id"], kv.count("src") ? kv["src"] : kv["source"], kv["env"]};
      if (sec.id.empty()) throw CLI::ValidationError("--secret", "id= is required");
      if (kv.count("type") && kv["type"] != "file" && kv["type"] != "env")
        throw CLI::ValidationError("--secret", "type=file or type=env, got '" + s + "'");
      if (kv["type"] == "env" && sec.env.empty()) {  // buildx: type=env,src=VAR names the variable
        sec.env = sec.src.empty() ? sec.id : sec.src;
        sec.src.clear();
      }
      if (sec.src.empty() && sec.env.empty()) sec.env = sec.id;
      // Checked now, not when a RUN first mounts it (maybe never, or after minutes).
      if (!sec.src.empty() && !std::filesystem::is_regular_file(sec.src))
        throw CLI::ValidationError("--secret", "id=" + sec.id + ": src " + sec.src + " is not a readable file (" +
                                                   (std::filesystem::exists(sec.src) ? "not a regular file" : "no such file") + ")");
      opts.secrets.push_back(sec);
    }
    opts.no_cache_filter.insert(f->no_cache_filter.begin(), f->no_cache_filter.end());
    if (opts.format == "docker" && opts.compression == "zstd")
      throw CLI::ValidationError("--format docker", "Docker schema 2 has no zstd layers; use --compression gzip or --format oci");
    if (opts.format == "docker" && !opts.manifest_annotations.empty())
      throw CLI::ValidationError("--format docker", "Docker schema 2 manifests have no annotations; drop --annotation or use --format oci");
    if (f->timestamp == "now") {
      opts.source_date_epoch.reset();
    } else {
      std::string sde = f->sde;
      if (sde.empty() && f->timestamp != "epoch") sde = f->timestamp;  // buildah's --timestamp SECONDS
      if (sde.empty()) {
        if (const char* e = std::getenv("SOURCE_DATE_EPOCH")) sde = e;
      }
      if (!sde.empty()) {
        if (sde.find_first_not_of("0123456789") != std::string::npos)
          throw CLI::ValidationError("--source-date-epoch", "expected unix seconds, got '" + sde + "'");
        opts.source_date_epoch = std::stoll(sde);
      }
    }
    opts.lint = f->lint == "warn" ? LintMode::kWarn : f->lint == "off" ? LintMode::kOff : LintMode::kError;
    if (f->quiet) f->progress = "quiet";
    opts.progress = f->progress == "tty" ? ProgressMode::kTty
                    : f->progress == "plain" ? ProgressMode::kPlain
                    : f->progress == "quiet" ? ProgressMode::kQuiet
                                             : (::isatty(STDERR_FILENO) ? ProgressMode::kTty : ProgressMode::kPlain);

    if (opts.check_only) throw ExitCode{RunBuildChecks(opts, std::cout)};

    sandbox::CheckSnapshotterSetting();
    // Everything after this point runs as namespace-root (a non-root caller
    // is re-executed here inside its user namespace).
    const sandbox::Isolation isolation = ChooseBuildIsolation(f->isolation, opts.progress == ProgressMode::kQuiet);
    sandbox::EnterBuildNamespace(ProcessArgc(), ProcessArgv(), &isolation);
    // (After the re-exec, so that each note prints once.)
    if (opts.progress != ProgressMode::kQuiet)
      for (const auto& n : notes) std::cerr << "kiln: note: " << n << "\n";
    ServeSshKeys(opts.ssh);  // here: in the process that runs the build, which the agents must not outlive
    SignalGuard signals;
    std::optional<StdinContext> stdin_context;
    if (opts.context_dir == "-") {
      stdin_context.emplace(ReadStdinContext(oci::Store(oci::Store::DefaultRoot()), opts.dockerfile));
      opts.context_dir = stdin_context->context_dir;
      if (!stdin_context->dockerfile.empty()) opts.dockerfile = stdin_context->dockerfile;
    }

    std::unique_ptr<Progress> progress;
    if (opts.progress == ProgressMode::kQuiet) progress = std::make_unique<NullProgress>();
    else progress = std::make_unique<StreamProgress>(stderr, opts.progress == ProgressMode::kTty);

    BuildResult r;
    try {
      r = Build(opts, *progress);
    } catch (const Cancelled& c) {
      progress->Finish();
      std::cerr << "kiln: " << c.what() << "\n";
      throw ExitCode{128 + c.signal()};
    } catch (const StepError& e) {
      progress->Finish();
      if (!e.tail().empty() && opts.progress != ProgressMode::kPlain) {
        std::cerr << "------ last output ------\n";
        for (const auto& l : e.tail()) std::cerr << "  " << l << "\n";
        std::cerr << "-------------------------\n";
      }
      throw;
    }
    // With a tar on stdout, the result line goes to stderr.
    std::ostream& result_out = WritesStdout(opts) ? std::cerr : std::cout;
    if (opts.progress == ProgressMode::kQuiet) {
      result_out << r.manifest.digest.str() << "\n";
      return;
    }
    std::string names;
    for (const auto& t : r.tags) names += (names.empty() ? "" : ", ") + t;
    result_out << "built " << (names.empty() ? "<untagged>" : names) << " " << r.manifest.digest.str()
              << " " << HumanSize(r.size) << " (" << r.steps_run << " steps run, " << r.steps_cached
              << " cached)\n";
  });
}

}  // namespace kiln::builder
