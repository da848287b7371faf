#include "builder/fs_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <cstdlib>
#include <set>

#include "builder/config_apply.h"
#include "builder/copy.h"
#include "builder/error.h"
#include "builder/layer_commit.h"
#include "builder/layer_lineage.h"
#include "builder/run_mounts.h"
#include "sandbox/file_io.h"
#include "oci/registry/url_fetch.h"
#include "oci/error.h"
#include "sandbox/error.h"
#include "sandbox/owner_record.h"
#include "sandbox/root_path.h"
#include "sandbox/overlay.h"
#include "sandbox/run.h"
#include "sandbox/user_db.h"

namespace kiln::builder {

namespace fs = std::filesystem;

namespace {

// A step's scratch space: upper/work/merged under one store temp dir.
struct StepDirs {
  oci::Store::TempDir tmp;
  fs::path upper, work, merged;
  explicit StepDirs(const oci::Store& store) : tmp(store.MakeTempDir("step")) {
    upper = tmp.path() / "upper";
    work = tmp.path() / "work";
    merged = tmp.path() / "merged";
    for (const auto& d : {upper, work, merged}) fs::create_directory(d);
    // The upper dir's root becomes the image's "/" attributes for overlay.
    ::chmod(upper.c_str(), 0755);
  }
};

bool IsDir(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Sources named in another image's filesystem (COPY --from).
std::vector<CopySource> MatchInRoot(const fs::path& root, const std::string& source) {
  const std::string clean = BuildContext::CleanSource(source);
  std::vector<CopySource> out;
  if (!BuildContext::HasWildcard(clean)) {
    fs::path host = sandbox::ResolveInRoot(root, "/" + clean, true);
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) throw Error({source, "", "not found"});
    out.push_back(CopySource{host, clean, S_ISDIR(st.st_mode)});
    return out;
  }
  // Wildcards in the last component only.
  const auto slash = clean.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : clean.substr(0, slash);
  fs::path host_dir = sandbox::ResolveInRoot(root, "/" + dir, true);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(host_dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string rel = dir.empty() ? n : dir + "/" + n;
    if (!PathMatch(clean, rel)) continue;
    out.push_back(CopySource{host_dir / n, rel, IsDir(host_dir / n)});
  }
  if (out.empty()) throw Error({source, "", "no source files were specified"});
  return out;
}

}  // namespace

FsStepRunner::FsStepRunner(oci::Store& store, LayerCache& layers, BuildContext* context,
                           BaseImageResolver& images, const BuildOptions& opts)
    : store_(store), layers_(layers), context_(context), images_(images), opts_(opts),
      layer_opts_(LayerOptionsFor(opts)) {}

oci::LayerOptions LayerOptionsFor(const BuildOptions& opts) {
  oci::LayerOptions lo;
  lo.source_date_epoch = opts.source_date_epoch;
  if (opts.compression == "zstd") lo.compression = oci::Compression::kZstd;
  else if (opts.compression == "none") lo.compression = oci::Compression::kNone;
  else lo.compression = oci::Compression::kGzip;
  return lo;
}

std::optional<oci::Layer> FsStepRunner::Finish(const fs::path& upper, const oci::Digest& lineage, bool snapshot) {
  if (fs::is_empty(upper)) return std::nullopt;  // nothing changed: no layer (BuildKit drops empty diffs)
  oci::LayerOptions opts = layer_opts_;
  if (snapshot) opts.compression = oci::Compression::kNone;
  const LayerLineage lineages(store_);
  if (!lineage.empty())
    if (auto last = lineages.Last(lineage)) opts.reuse_gzip_members_of = last->blob;
  oci::Layer layer = oci::WriteLayer(store_, upper, opts);
  store_.AdoptLayerDir(upper, layer.diff_id);
  if (snapshot) MarkSnapshotLayer(store_, layer.diff_id);
  store_.RecordDiffId(layer.blob.digest, layer.diff_id);  // computed here: LayerCache need not hash it again
  if (!lineage.empty()) lineages.Record(lineage, layer.blob.digest, layer.diff_id);
  return layer;
}

std::optional<oci::Layer> FsStepRunner::Run(const ImageState& parent, const RunRequest& req) {
  StepDirs dirs(store_);
  {
    sandbox::OverlayMount mount(layers_.Lowers(parent), dirs.upper, dirs.work, dirs.merged);
    // WORKDIR is created by the first step that needs it (docker does the same).
    if (!IsDir(sandbox::ResolveInRoot(dirs.merged, req.cwd, true))) MkdirAllInRoot(dirs.merged, req.cwd);

    sandbox::RunSpec spec;
    spec.rootfs = dirs.merged;
    spec.emulation = emulation_;
    spec.argv = req.argv;
    spec.env = req.env;
    bool has_path = false;
    for (const auto& e : spec.env) has_path |= e.rfind("PATH=", 0) == 0;
    if (!has_path) {
      std::string path_env = "PATH=";
      path_env.append(kDefaultPath);  // (operator+ trips GCC 12's -Warray-bounds at -O2)
      spec.env.push_back(std::move(path_env));
    }
    spec.cwd = req.cwd;
    // HOME as runc gives it under BuildKit: the user's passwd entry (root's
    // when no USER), "/" without one, unless the image's Env sets it.
    bool has_home = false;
    for (const auto& e : spec.env) has_home |= e.rfind("HOME=", 0) == 0;
    if (!req.user.empty()) {
      auto u = sandbox::ResolveUser(dirs.merged, req.user);
      spec.uid = u.uid;
      spec.gid = u.gid;
      spec.groups = u.groups;
      if (!has_home) spec.env.push_back("HOME=" + u.home);
    } else if (!has_home) {
      spec.env.push_back("HOME=" + sandbox::ResolveUser(dirs.merged, "0").home);
    }
    const std::string net = !req.run.network.empty() ? req.run.network : opts_.network;
    spec.network = net == "none" ? sandbox::Network::kNone : sandbox::Network::kHost;
    spec.stdin_data = req.stdin_data;
    spec.on_output = req.on_output;
    for (const auto& h : opts_.add_hosts) {
      const auto sp = h.find(' ');
      spec.extra_hosts.emplace_back(h.substr(0, sp), h.substr(sp + 1));
    }
    for (const auto& u : opts_.ulimits) spec.rlimits.push_back({u.resource, u.soft, u.hard});
    spec.shm_size = opts_.shm_size;

    MountResources held;
    for (size_t i = 0; i < req.run.mounts.size(); ++i) {
      const ImageState* from = i < req.mount_from.size() ? req.mount_from[i] : nullptr;
      if (auto sm = PrepareMount(req.run.mounts[i], from, req.cwd, spec, held)) spec.mounts.push_back(std::move(*sm));
    }
    held.LockCaches();

    sandbox::RunResult result = sandbox::Run(spec);
    if (!result.ok()) throw StepFailed(result.describe(), result.tail);
    mount.Finish();
  }
  return Finish(dirs.upper, req.lineage, req.snapshot);
}

std::optional<oci::Layer> FsStepRunner::Workdir(const ImageState& parent, const WorkdirRequest& req) {
  StepDirs dirs(store_);
  {
    sandbox::OverlayMount mount(layers_.Lowers(parent), dirs.upper, dirs.work, dirs.merged);
    // BuildKit resolves the owner as a file op does: a name takes uid and
    // gid from passwd, a bare number is uid = gid, "u:g" as --chown.
    sandbox::ResolvedUser owner;
    if (!req.user.empty()) {
      const bool named = req.user.find(':') == std::string::npos &&
                         req.user.find_first_not_of("0123456789") != std::string::npos;
      owner = named ? sandbox::ResolveUser(dirs.merged, req.user) : sandbox::ResolveChown(dirs.merged, req.user);
    }
    MkdirAllInRoot(dirs.merged, req.path, owner.uid, owner.gid);
    mount.Finish();
  }
  return Finish(dirs.upper);
}

std::optional<oci::Layer> FsStepRunner::Copy(const ImageState& parent, const CopyRequest& req) {
  const auto& copy = req.copy;
  StepDirs dirs(store_);
  std::optional<CopyDonor> donor;  // what this COPY offers later ones, once its layer is made
  {
    // --link: the files go into an empty root, a layer of their own that
    // does not depend on the parent (destinations resolve without the
    // parent's symlinks, parents are made 0755 root), as BuildKit does.
    sandbox::OverlayMount mount(copy.link ? std::vector<fs::path>{} : layers_.Lowers(parent), dirs.upper, dirs.work,
                                dirs.merged);
    CopyAttrs attrs;
    if (!copy.chown.empty()) {
      // Names come from the parent's /etc/passwd and /etc/group, --link too.
      std::optional<oci::Store::TempDir> users_dir;
      std::unique_ptr<sandbox::OverlayMount> users_view;
      fs::path users_root = dirs.merged;
      if (copy.link) {
        users_dir.emplace(store_.MakeTempDir("users"));
        users_root = users_dir->path();
        auto lowers = layers_.Lowers(parent);
        if (!lowers.empty()) users_view = std::make_unique<sandbox::OverlayMount>(lowers, fs::path(), fs::path(), users_root);
      }
      auto u = sandbox::ResolveChown(users_root, copy.chown);
      attrs.uid = u.uid;
      attrs.gid = u.gid;
    }
    if (!copy.chmod.empty()) attrs.chmod = ParseChmod(copy.chmod);

    std::unique_ptr<sandbox::OverlayMount> from_mount;
    std::optional<oci::Store::TempDir> from_dir;
    fs::path from_root;
    if (req.from) {
      from_dir.emplace(store_.MakeTempDir("copyfrom"));
      from_root = from_dir->path();
      auto lowers = layers_.Lowers(*req.from);
      if (!lowers.empty()) from_mount = std::make_unique<sandbox::OverlayMount>(lowers, fs::path(), fs::path(), from_root);
    }

    std::vector<CopySource> sources;
    std::vector<const ContextEntry*> allowed;  // what survives .dockerignore/--exclude, sorted below
    size_t source_args = 0;
    std::vector<const frontend::Heredoc*> heredocs;
    std::vector<std::pair<oci::FetchedUrl, std::optional<oci::Store::TempDir>>> fetched;
    for (const auto& s : copy.sources) {
      ++source_args;
      if (auto name = frontend::HeredocSourceName(s)) {  // checked by the frontend: it names a heredoc
        for (const auto& h : copy.heredocs)
          if (h.name == *name) heredocs.push_back(&h);
        continue;
      }
      if (copy.is_add && frontend::IsHttpSource(s)) {
        auto tmp = store_.MakeTempDir("add");
        auto f = oci::FetchUrl(s, tmp.path() / "download", copy.checksum);
        sources.push_back(CopySource{f.file, f.filename, false});
        fetched.emplace_back(std::move(f), std::move(tmp));
        continue;
      }
      if (req.from) {
        for (auto& cs : MatchInRoot(from_root, s)) sources.push_back(std::move(cs));
        continue;
      }
      for (const ContextEntry* e : context_->Match(s)) {
        for (const ContextEntry* b : context_->Below(*e, copy.excludes)) allowed.push_back(b);
        sources.push_back(CopySource{context_->root() / e->path, e->path, e->is_dir()});
      }
    }
    std::sort(allowed.begin(), allowed.end());
    if (!req.from) {
      // Entry pointers, not a second copy of every path: the context holds its entries for the whole build.
      attrs.include = [this, &allowed](const std::string& rel) {
        const ContextEntry* e = context_->Find(rel);
        return e && std::binary_search(allowed.begin(), allowed.end(), e);
      };
    }
    if (req.from && !copy.excludes.empty()) {
      attrs.include = [&copy](const std::string& rel) {
        for (const auto& x : copy.excludes)
          if (PathMatch(BuildContext::CleanSource(x), rel)) return false;
        return true;
      };
    }

    const std::string dest_abs = JoinWorkdir(req.workdir, copy.dest);
    for (const auto* h : heredocs) {
      const bool dir = copy.dest.back() == '/' || source_args > 1 || IsDir(sandbox::ResolveInRoot(dirs.merged, dest_abs, true));
      WriteFileInRoot(dirs.merged, dir ? JoinWorkdir(dest_abs, h->name) : dest_abs, h->content, attrs);
    }
    auto dest_is_dir = [&](const std::string& p) { return IsDir(sandbox::ResolveInRoot(dirs.merged, p, true)); };
    const auto plan = PlanCopy(sources, copy.dest, req.workdir, source_args, copy.parents, dest_is_dir);
    // One target and nothing else written, on an overlay: files can be left
    // for linking from this step's last tree (copy.h).
    // Failing that, from a tree an earlier COPY of the same context files
    // made in this build.
    EarlierFiles earlier;
    const bool linkable = plan.size() == 1 && heredocs.empty() && !mount.copied();
    if (linkable && !req.lineage.empty()) {
      auto last = LayerLineage(store_).Last(req.lineage);
      if (last && last->diff_id && store_.HasLayerDir(*last->diff_id)) {
        earlier.tree = store_.LayerDir(*last->diff_id);
        attrs.earlier = &earlier;
      }
    }
    const bool from_context = !req.from && fetched.empty() && !copy.is_add;
    if (linkable && from_context && !attrs.earlier) {
      if (auto d = DonorFor(plan.front().source.host_path.string())) {
        earlier.tree = store_.LayerDir(d->diff_id);
        earlier.donor_from_top = d->from_top;
        earlier.donor_to_top_rel = d->to_top_rel;
      }
      attrs.earlier = &earlier;  // also to learn where the files went, for the record below
    }
    for (const auto& t : plan) {
      // ADD: a local tar archive is extracted into the destination directory
      // (docker: dest is the directory, whether or not it ends in '/'); a
      // downloaded one is not.
      const bool downloaded = std::any_of(fetched.begin(), fetched.end(),
                                          [&](const auto& f) { return f.first.file == t.source.host_path; });
      if (copy.is_add && copy.unpack_default && !t.source.is_dir && !downloaded && IsTarArchive(t.source.host_path)) {
        oci::ExtractOptions eo;
        eo.overlay_form = false;
        oci::ExtractLayer(t.source.host_path, MkdirAllInRoot(dirs.merged, dest_abs), eo);
        continue;
      }
      CopyInto(dirs.merged, t, attrs);
    }
    mount.Finish([&] { LinkEarlierFiles(dirs.upper, earlier); });
    if (from_context && attrs.earlier && !earlier.from_top.empty() && !earlier.to_top_rel.empty())
      donor = CopyDonor{{}, earlier.from_top, earlier.to_top_rel};
  }
  auto layer = Finish(dirs.upper, req.lineage, req.snapshot);
  if (layer && donor) {
    donor->diff_id = layer->diff_id;
    std::lock_guard lock(donors_mu_);
    donors_.push_back(std::move(*donor));
  }
  return layer;
}

std::optional<FsStepRunner::CopyDonor> FsStepRunner::DonorFor(const std::string& source) {
  std::lock_guard lock(donors_mu_);
  for (auto it = donors_.rbegin(); it != donors_.rend(); ++it) {
    if (IsAtOrBelow(source, it->from_top) && store_.HasLayerDir(it->diff_id)) return *it;
  }
  return std::nullopt;
}

}  // namespace kiln::builder
