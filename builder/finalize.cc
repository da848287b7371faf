#include "builder/finalize.h"

#include <cstdio>
#include <ctime>
#include <exception>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "builder/error.h"
#include "builder/base_image.h"
#include "builder/finalize_memo.h"
#include "builder/fs_runner.h"
#include "builder/image_flatten.h"
#include "builder/layer_commit.h"
#include "builder/step_cache.h"
#include "builder/provenance_input.h"
#include "oci/digest.h"
#include "oci/docker_manifest.h"
#include "oci/supply/provenance.h"
#include "oci/reference.h"
#include "oci/supply/secret_scan.h"
#include "oci/supply/supply_chain.h"

namespace kiln::builder {

namespace {

// Repository the referrers are tagged under: that of the first -t tag
// ("app:1" -> "app"); untagged builds use "kiln-untagged".
std::string ReferrerRepo(const BuildOptions& opts) {
  if (opts.tags.empty()) return "kiln-untagged";
  std::string s = NormalizeTag(opts.tags.front());
  if (auto at = s.find('@'); at != std::string::npos) s.resize(at);
  const auto colon = s.rfind(':');
  const auto slash = s.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) s.resize(colon);
  return s;
}

std::string JoinLines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// A layer's tree without setuid/setgid entries stays so: remembered by
// diff_id, it is not walked again when a later image is built on it.
oci::Digest NoSetBitsKey(const oci::Digest& diff_id) {
  return CacheKeyBuilder().Add("pass", "no-set-bits-v1").Add("layer", diff_id.str()).Finish();
}

// The set-bit state of the bottom k layers depends on those layers alone.
oci::Digest SetBitsKey(const std::vector<oci::Digest>& diff_ids, size_t k, const std::vector<std::string>& shells) {
  CacheKeyBuilder b;
  b.Add("pass", "set-bits-v1").Add("shells", JoinLines(shells));
  for (size_t i = 0; i < k && i < diff_ids.size(); ++i) b.Add("layer", diff_ids[i].str());
  return b.Finish();
}

void StripStepUncached(oci::Store& store, oci::StripOptions so, const FinalizeInput& in,
                       oci::Descriptor& manifest, std::ostream& log) {
  const FinalizeMemo memo(store);
  const oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
  const std::vector<oci::Digest> diff_ids = oci::ParseImageConfig(store.ReadBlob(m.config.digest)).diff_ids;
  for (const auto& diff_id : diff_ids)
    if (auto hit = memo.Get(NoSetBitsKey(diff_id)); hit && hit->value("none", false)) so.no_set_bits.insert(diff_id);
  // The deepest layer prefix whose set-bit state is known: only the layers
  // above it are read.
  for (size_t k = diff_ids.size(); k > 0 && !so.below; --k)
    if (auto hit = memo.Get(SetBitsKey(diff_ids, k, so.strip_shells)))
      if (auto state = oci::SetBitsState::FromJson(*hit); state && state->layers == k) so.below = std::move(state);
  const oci::StripResult r = oci::StripSetuid(store, manifest, so);
  for (const auto& state : r.report.walked) memo.Put(SetBitsKey(diff_ids, state.layers, so.strip_shells), state.ToJson());
  for (const auto& diff_id : r.walked_without_set_bits) memo.Put(NoSetBitsKey(diff_id), {{"none", true}});
  for (const auto& k : r.report.kept) log << "kiln: setuid/setgid kept (allowlisted): " << k << "\n";
  if (!r.layer) return;
  char buf[48];
  for (const auto& c : r.report.changed) {
    std::snprintf(buf, sizeof buf, " (%04o -> %04o)", c.old_mode, c.new_mode);
    log << "kiln: stripped setuid/setgid: " << c.path << buf << "\n";
  }
  for (const auto& w : r.report.removed) log << "kiln: removed (--strip-shells): " << w << "\n";
  manifest = oci::AppendLayer(store, manifest, *r.layer, "kiln: strip setuid/setgid bits", in.created);
}

// The strip pass, remembered: its result (the manifest after it, and what it
// said) depends only on the manifest it read and the options.
void StripStep(oci::Store& store, const BuildOptions& opts, const FinalizeInput& in, oci::Descriptor& manifest,
               std::ostream& log) {
  oci::StripOptions so;
  so.keep_setuid = opts.keep_setuid;
  if (opts.strip_shells) so.strip_shells = oci::DefaultShells();
  so.mtime = opts.source_date_epoch ? *opts.source_date_epoch : int64_t(std::time(nullptr));
  const oci::Digest key = CacheKeyBuilder()
                              .Add("pass", "strip-setuid-v1")
                              .Add("kiln", KILN_GIT_COMMIT)  // the passes' rules change with kiln
                              .Add("manifest", manifest.digest.str())
                              .Add("keep", JoinLines(so.keep_setuid))
                              .Add("shells", JoinLines(so.strip_shells))
                              .Add("mtime", std::to_string(*so.mtime))
                              .Add("created", in.created)
                              .Finish();
  const FinalizeMemo memo(store);
  if (auto hit = memo.Get(key)) {
    try {
      const oci::Index after = oci::ParseIndex(hit->at("manifest").dump());
      if (after.manifests.size() == 1 && store.HasBlob(after.manifests[0].digest)) {
        log << hit->at("log").get<std::string>();
        manifest = after.manifests[0];
        return;
      }
    } catch (const std::exception&) {  // a damaged entry is a miss
    }
  }
  std::ostringstream said;
  StripStepUncached(store, so, in, manifest, said);
  log << said.str();
  oci::Index after;
  after.manifests.push_back(manifest);
  memo.Put(key, {{"manifest", nlohmann::json::parse(oci::ToJson(after))}, {"log", said.str()}});
}

void SecretStep(const oci::Store& store, const BuildOptions& opts, const oci::Descriptor& manifest,
                std::ostream& log) {
  oci::SecretScanOptions so;
  for (const auto& a : opts.allow_secrets) {
    // "/etc/x" or "dir/" is a path; a bare word may be a rule id or a path.
    so.allow_paths.push_back(a);
    if (a.find('/') == std::string::npos) so.allow_rules.insert(a);
  }
  // A clean scan is remembered, for the image and for each layer: a new
  // image reads only its layers not seen clean before (a dirty scan fails
  // the build, so it is rerun).
  auto key_for = [&](const char* what, const std::string& digest) {
    return CacheKeyBuilder()
        .Add("pass", "secret-scan-v1")
        .Add("kiln", KILN_GIT_COMMIT)  // the passes' rules change with kiln
        .Add(what, digest)
        .Add("allow", JoinLines(opts.allow_secrets))
        .Finish();
  };
  const oci::Digest key = key_for("manifest", manifest.digest.str());
  const FinalizeMemo memo(store);
  if (auto hit = memo.Get(key); hit && hit->value("clean", false)) return;
  const oci::LoadedImage image = oci::LoadImage(store, manifest);
  for (const auto& l : image.layers)
    if (auto hit = memo.Get(key_for("layer", l.digest)); hit && hit->value("clean", false)) so.known_clean.insert(l.digest);
  const auto findings = oci::ScanLayersForSecrets(image.config, image.layers, so);
  std::set<std::string> dirty;
  for (const auto& f : findings) dirty.insert(f.layer_digest);
  for (const auto& l : image.layers)
    if (!so.known_clean.count(l.digest) && !dirty.count(l.digest)) memo.Put(key_for("layer", l.digest), {{"clean", true}});
  if (findings.empty()) {
    memo.Put(key, {{"clean", true}});
    return;
  }
  for (const auto& f : findings) log << "kiln: secret: " << oci::FormatFinding(f) << "\n";
  throw Error({"secret scan", "", std::to_string(findings.size()) +
                " secret(s) in the image (deleted files still ship in their layer)",
                "remove them, allow them with --allow-secret PATH|RULE, or build with --secret-scan=off"});
}

void AttestStep(oci::Store& store, const BuildOptions& opts, const FinalizeInput& in,
                const oci::Descriptor& manifest, std::ostream& log) {
  const std::string repo = ReferrerRepo(opts);
  const std::string name = opts.tags.empty() ? "" : NormalizeTag(opts.tags.front());
  oci::SbomDocOptions doc;
  doc.created = in.created;
  doc.tool_version = KILN_VERSION;
  for (auto format : {oci::SbomFormat::kSpdxJson, oci::SbomFormat::kCycloneDxJson}) {
    const std::string text = oci::GenerateSbom(store, manifest, format, doc, name);
    const auto d = oci::AttachSbom(store, repo, manifest, format, text, in.created);
    log << "kiln: attached " << oci::SbomMediaType(format) << " " << d.digest.str() << "\n";
  }
  BuildFacts facts;
  facts.image_name = name;
  facts.manifest = manifest.digest;
  facts.dockerfile_path = in.dockerfile_path;
  facts.dockerfile_text = in.dockerfile_text;
  facts.images = in.images;
  facts.context_digest = in.context_digest;
  facts.context_files = in.context_files;
  facts.started = in.started;
  facts.finished = int64_t(std::time(nullptr));
  const oci::ProvenanceInput pi = MakeProvenanceInput(opts, facts);
  const auto d = oci::AttachProvenance(store, repo, manifest, oci::ProvenanceStatement(pi), in.created);
  log << "kiln: attached " << oci::kInTotoMediaType << " " << d.digest.str() << "\n";
}

}  // namespace

FinalizeResult FinalizeImage(oci::Store& store, const BuildOptions& opts, const FinalizeInput& in, std::ostream& log) {
  // Snapshot layers of stages built as intermediate ones (in this build or
  // an earlier one) are compressed now that they are exported.
  oci::Descriptor manifest = CompressSnapshotLayers(store, LayerOptionsFor(opts), in.manifest);
  const oci::Descriptor built = manifest;
  // Both passes read every layer. The strip layer holds no content of its
  // own (files of the layers below with other modes, and whiteouts), so the
  // secret scan of the layers as built says all there is, and it runs beside
  // the strip pass instead of after it.
  std::ostringstream secret_log;
  std::exception_ptr secret_error, strip_error;
  {
    std::jthread secret;
    if (opts.secret_scan) {
      secret = std::jthread([&] {
        try {
          SecretStep(store, opts, built, secret_log);
        } catch (...) {
          secret_error = std::current_exception();
        }
      });
    }
    try {
      if (opts.strip_setuid) StripStep(store, opts, in, manifest, log);
    } catch (...) {
      strip_error = std::current_exception();
    }
  }
  log << secret_log.str();
  if (strip_error) std::rethrow_exception(strip_error);
  if (secret_error) std::rethrow_exception(secret_error);
  // After the strip (its fix-up layer is squashed too), before attesting.
  if (opts.squash) {
    const size_t n = oci::ParseManifest(store.ReadBlob(manifest.digest)).layers.size();
    manifest = SquashManifest(store, manifest, LayerOptionsFor(opts), in.created,
                              [&log](const std::string& s) { log << "kiln: squash: " << s << "\n"; });
    log << "kiln: squashed " << n << " layers into one\n";
  }
  // Before attesting, so that SBOM and provenance name the manifest pushed.
  if (opts.format == "docker") manifest = oci::ConvertToDockerManifest(store, manifest);
  if (opts.sbom) AttestStep(store, opts, in, manifest, log);

  FinalizeResult r;
  r.manifest = manifest;
  const oci::Manifest m = oci::ParseManifest(store.ReadBlob(manifest.digest));
  r.config_digest = m.config.digest;
  r.size = m.config.size + manifest.size;
  for (const auto& l : m.layers) r.size += l.size;
  return r;
}

}  // namespace kiln::builder
