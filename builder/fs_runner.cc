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
#include "builder/layer_commit.h"
#include "builder/layer_lineage.h"
#include "builder/ssh_mount.h"
#include "oci/store/file_lock.h"
#include "sandbox/file_io.h"
#include "oci/registry/url_fetch.h"
#include "oci/error.h"
#include "sandbox/error.h"
#include "sandbox/owner_record.h"
#include "sandbox/copy_snapshot.h"
#include "sandbox/overlay.h"
#include "sandbox/run.h"
#include "sandbox/user_db.h"
#include "sandbox/whiteout.h"

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
    fs::path host = ResolveInRoot(root, "/" + clean, true);
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) throw std::runtime_error(source + ": not found");
    out.push_back(CopySource{host, clean, S_ISDIR(st.st_mode)});
    return out;
  }
  // Wildcards in the last component only.
  const auto slash = clean.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : clean.substr(0, slash);
  fs::path host_dir = ResolveInRoot(root, "/" + dir, true);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(host_dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string rel = dir.empty() ? n : dir + "/" + n;
    if (!PathMatch(clean, rel)) continue;
    out.push_back(CopySource{host_dir / n, rel, IsDir(host_dir / n)});
  }
  if (out.empty()) throw std::runtime_error(source + ": no source files were specified");
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

// What a RUN step's mounts hold on to until the command has finished: the
// overlays and temp dirs behind bind/secret mounts, and the cache locks.
struct FsStepRunner::MountResources {
  std::vector<oci::Store::TempDir> dirs;
  std::vector<std::unique_ptr<sandbox::OverlayMount>> overlays;
  // Cache lock files to take before the run, with exclusive or shared.
  std::map<fs::path, bool> cache_locks;
  std::vector<oci::FileLock> locks;
  std::set<std::string> private_dirs;  // cache instances this step holds privately
  // Blocking locks in path order, so two steps never wait on each other.
  void LockCaches() {
    for (const auto& [file, exclusive] : cache_locks) locks.emplace_back(file, exclusive);
  }
};

std::optional<sandbox::Mount> FsStepRunner::PrepareMount(const frontend::MountSpec& m, const ImageState* from,
                                                        const std::string& cwd, sandbox::RunSpec& spec,
                                                        MountResources& held) {
  sandbox::Mount sm;
  sm.target = JoinWorkdir(cwd, m.target);
  if (m.type == "tmpfs") {
    sm.type = sandbox::Mount::Type::kTmpfs;
    sm.tmpfs_size = m.size.value_or(0);
    sm.readonly = false;
    sm.mode = m.mode.value_or(01777);
    return sm;
  }
  if (m.type == "cache") {
    std::string id = m.id.empty() ? sm.target : m.id;
    fs::path seed;
    if (from) {
      // BuildKit: a cache seeded from a stage or image starts as a copy of it
      // (source= a path in it) and is a cache of its own for each seed state.
      seed = ResolveInRoot(StateView(*from, held), "/" + BuildContext::CleanSource(m.source), true);
      struct stat st {};
      if (::stat(seed.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw std::runtime_error("--mount type=cache from=" + m.from + " source=" + (m.source.empty() ? "/" : m.source) +
                                 ": not a directory in " + m.from);
      id += std::string(1, '\0') + "from=" + from->digest.str() + std::string(1, '\0') + "source=" + m.source;
    } else if (!m.source.empty()) {
      throw std::runtime_error("--mount type=cache source=" + m.source + " needs from= (the stage or image it is in)");
    }
    sm.source = CacheMountDir(id, m, held, seed);
    sm.readonly = m.readonly;
    return sm;
  }
  if (m.type == "secret") return SecretMount(m, cwd, spec, held);
  if (m.type == "ssh") return SshAgentMount(m, opts_.ssh, cwd, spec.env);
  if (m.type == "bind") {
    std::vector<fs::path> lowers;
    if (from) {
      lowers = layers_.Lowers(*from);
    } else {
      if (!context_) throw std::runtime_error("--mount type=bind needs a build context");
      lowers = ContextLowers();
    }
    fs::path root;
    if (m.readonly && !from && lowers.size() == 1) {
      root = lowers[0];  // nothing ignored: the context dir itself
    } else {
      // A stage's layers seen through an overlay; rw mounts get a throwaway
      // upper dir, so their writes are discarded as BuildKit discards them.
      held.dirs.push_back(store_.MakeTempDir("bind"));
      const fs::path base = held.dirs.back().path();
      if (lowers.empty()) {  // a stage with no layers: an empty tree
        fs::create_directory(base / "empty");
        lowers = {base / "empty"};
      }
      fs::path upper, work;
      if (!m.readonly) {
        upper = base / "upper";
        work = base / "work";
        fs::create_directory(upper);
        fs::create_directory(work);
      }
      root = base / "merged";
      fs::create_directory(root);
      held.overlays.push_back(std::make_unique<sandbox::OverlayMount>(lowers, upper, work, root));
    }
    sm.source = ResolveInRoot(root, "/" + BuildContext::CleanSource(m.source), true);
    struct stat st {};
    if (::stat(sm.source.c_str(), &st) != 0)
      throw std::runtime_error("--mount type=bind source " + (m.source.empty() ? "." : m.source) + ": not found in " +
                               (from ? "the stage" : "the build context"));
    sm.readonly = m.readonly;
    return sm;
  }
  throw std::runtime_error("--mount type=" + m.type + " is not supported");
}

std::vector<fs::path> FsStepRunner::ContextLowers() {
  const std::vector<std::string>& hidden = context_->Hidden();
  if (hidden.empty()) return {context_->root()};
  std::lock_guard lock(context_mask_mu_);
  if (!context_mask_) {
    oci::Store::TempDir tmp = store_.MakeTempDir("ctxmask");
    const fs::path mask = tmp.path() / "mask";
    fs::create_directory(mask);
    // A directory of the mask is what the overlay shows for that directory,
    // so each one takes the context's mode and mtime (set once its
    // whiteouts are in).
    std::vector<std::string> dirs{""};
    for (const auto& h : hidden) {
      for (size_t slash = h.find('/'); slash != std::string::npos; slash = h.find('/', slash + 1)) {
        const std::string parent = h.substr(0, slash);
        if (::mkdir((mask / parent).c_str(), 0700) == 0) dirs.push_back(parent);
        else if (errno != EEXIST) throw std::runtime_error("context view: mkdir " + parent + ": " + std::strerror(errno));
      }
      sandbox::MakeWhiteout(mask / h);
    }
    for (const auto& d : dirs) {
      struct stat st {};
      const fs::path src = d.empty() ? context_->root() : context_->root() / d;
      if (::lstat(src.c_str(), &st) != 0) throw std::runtime_error("context view: stat " + src.string() + ": " + std::strerror(errno));
      const fs::path dst = d.empty() ? mask : mask / d;
      const struct timespec ts[2] = {st.st_atim, st.st_mtim};
      if (::chmod(dst.c_str(), st.st_mode & 07777) != 0 || ::utimensat(AT_FDCWD, dst.c_str(), ts, 0) != 0)
        throw std::runtime_error("context view: set attributes of " + dst.string() + ": " + std::strerror(errno));
    }
    context_mask_.emplace(std::move(tmp));
  }
  return {context_mask_->path() / "mask", context_->root()};
}

std::optional<sandbox::Mount> FsStepRunner::SecretMount(const frontend::MountSpec& m, const std::string& cwd,
                                                       sandbox::RunSpec& spec, MountResources& held) {
  const std::string id = m.id.empty() ? fs::path(m.target).filename().string() : m.id;
  const SecretSpec* found = nullptr;
  for (const auto& s : opts_.secrets)
    if (s.id == id) found = &s;
  if (!found) {
    if (m.required) throw std::runtime_error("secret " + id + " is required but was not given (--secret id=" + id + ",src=FILE)");
    return std::nullopt;  // docker skips an optional secret nobody passed
  }
  std::string value;
  if (!found->src.empty()) {
    try {
      value = sandbox::ReadFileToString(found->src);
    } catch (const std::exception& e) {
      throw std::runtime_error("secret " + id + ": " + e.what());
    }
  } else {
    const char* v = std::getenv(found->env.c_str());
    if (!v) throw std::runtime_error("secret " + id + ": environment variable " + found->env + " is not set");
    value = v;
  }
  if (!m.env.empty()) spec.env.push_back(m.env + "=" + value);
  if (!m.env.empty() && m.target.empty()) return std::nullopt;  // env= alone: no file

  // The file lives in a private temp dir for this step only (BuildKit keeps
  // it in a tmpfs), root-owned 0400 unless uid/gid/mode say otherwise.
  held.dirs.push_back(store_.MakeTempDir("secret"));
  const fs::path file = held.dirs.back().path() / "secret";
  CopyAttrs attrs;
  attrs.uid = m.uid.value_or(0);
  attrs.gid = m.gid.value_or(0);
  WriteFileInRoot(held.dirs.back().path(), "/secret", value, attrs, m.mode.value_or(0400));
  sandbox::Mount sm;
  sm.source = file;
  sm.target = m.target.empty() ? "/run/secrets/" + id : JoinWorkdir(cwd, m.target);
  sm.readonly = true;
  return sm;
}

fs::path FsStepRunner::StateView(const ImageState& state, MountResources& held) {
  held.dirs.push_back(store_.MakeTempDir("view"));
  const fs::path root = held.dirs.back().path();
  auto lowers = layers_.Lowers(state);
  if (!lowers.empty()) held.overlays.push_back(std::make_unique<sandbox::OverlayMount>(lowers, fs::path(), fs::path(), root));
  return root;
}

fs::path FsStepRunner::CacheMountDir(const std::string& id, const frontend::MountSpec& m, MountResources& held,
                                     const fs::path& seed) {
  const std::string shown = m.id.empty() ? m.target : m.id;  // `id` may carry the seed's identity
  const fs::path root = store_.Path("cache/mounts");
  fs::create_directories(root);
  const std::string base = (root / oci::Sha256Of(id).hex).string();
  fs::path dir = base;
  if (m.sharing == "private") {
    // The first instance nobody is using; each instance is kept for later builds.
    for (int n = 0;; ++n) {
      const std::string cand = n == 0 ? base : base + "." + std::to_string(n);
      if (held.cache_locks.count(cand + ".lock")) continue;
      if (auto lock = oci::FileLock::TryExclusive(cand + ".lock")) {
        held.locks.push_back(std::move(*lock));
        held.private_dirs.insert(cand);
        dir = cand;
        break;
      }
    }
  } else if (m.sharing == "shared" || m.sharing == "locked" || m.sharing.empty()) {
    // Shared users hold the lock shared, so `locked` and `private` users see them.
    if (held.private_dirs.count(base))
      throw std::runtime_error("cache mount " + shown + " is mounted twice in one step with different sharing");
    bool& exclusive = held.cache_locks[base + ".lock"];
    exclusive = exclusive || m.sharing == "locked";
  } else {
    throw std::runtime_error("--mount type=cache sharing=" + m.sharing + ": expected shared, private or locked");
  }
  if (!seed.empty() && ::access(dir.c_str(), F_OK) != 0) {
    // Made whole beside it and renamed into place: a build killed halfway
    // leaves no half-seeded cache, and of two builds seeding at once the
    // first rename wins.
    oci::Store::TempDir tmp = store_.MakeTempDir("cacheseed");
    const fs::path made = tmp.path() / "seed";
    struct stat st {};
    if (::mkdir(made.c_str(), 0700) != 0 || ::lstat(seed.c_str(), &st) != 0)
      throw std::runtime_error("cache mount " + shown + ": seeding " + made.string() + ": " + std::strerror(errno));
    sandbox::CopyMergedLowers({seed}, made);
    if (::chown(made.c_str(), st.st_uid, st.st_gid) != 0 || ::chmod(made.c_str(), st.st_mode & 07777) != 0)
      throw std::runtime_error("cache mount " + shown + ": seeding " + made.string() + ": " + std::strerror(errno));
    if (::rename(made.c_str(), dir.c_str()) != 0 && errno != EEXIST && errno != ENOTEMPTY)
      throw std::runtime_error("cache mount " + shown + ": rename into " + dir.string() + ": " + std::strerror(errno));
    return dir;
  }
  if (::mkdir(dir.c_str(), 0755) == 0) {
    // uid/gid/mode apply when the cache is created, as in BuildKit.
    try {
      sandbox::SetOwner(dir.string(), m.uid.value_or(0), m.gid.value_or(0));
    } catch (const sandbox::Error& e) {
      throw std::runtime_error("cache mount " + shown + ": " + e.what());
    }
    ::chmod(dir.c_str(), m.mode.value_or(0755));
  } else if (errno != EEXIST) {
    throw std::runtime_error("cache mount " + shown + ": mkdir " + dir.string() + ": " + std::strerror(errno));
  }
  return dir;
}

std::optional<oci::Layer> FsStepRunner::Run(const ImageState& parent, const RunRequest& req) {
  StepDirs dirs(store_);
  {
    sandbox::OverlayMount mount(layers_.Lowers(parent), dirs.upper, dirs.work, dirs.merged);
    // WORKDIR is created by the first step that needs it (docker does the same).
    if (!IsDir(ResolveInRoot(dirs.merged, req.cwd, true))) MkdirAllInRoot(dirs.merged, req.cwd);

    sandbox::RunSpec spec;
    spec.rootfs = dirs.merged;
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
      const bool dir = copy.dest.back() == '/' || source_args > 1 || IsDir(ResolveInRoot(dirs.merged, dest_abs, true));
      WriteFileInRoot(dirs.merged, dir ? JoinWorkdir(dest_abs, h->name) : dest_abs, h->content, attrs);
    }
    auto dest_is_dir = [&](const std::string& p) { return IsDir(ResolveInRoot(dirs.merged, p, true)); };
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
