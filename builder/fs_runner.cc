#include "builder/fs_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "builder/config_apply.h"
#include "builder/copy.h"
#include "oci/url_fetch.h"
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

bool IsUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

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
    : store_(store), layers_(layers), context_(context), images_(images), opts_(opts) {
  layer_opts_.source_date_epoch = opts.source_date_epoch;
  if (opts.compression == "zstd") layer_opts_.compression = oci::Compression::kZstd;
  else if (opts.compression == "none") layer_opts_.compression = oci::Compression::kNone;
  else layer_opts_.compression = oci::Compression::kGzip;
}

std::optional<oci::Layer> FsStepRunner::Finish(const fs::path& upper) {
  if (fs::is_empty(upper)) return std::nullopt;  // nothing changed: no layer (BuildKit drops empty diffs)
  oci::Layer layer = oci::WriteLayer(store_, upper, layer_opts_);
  store_.AdoptLayerDir(upper, layer.diff_id);
  return layer;
}

fs::path FsStepRunner::CacheMountDir(const std::string& id) {
  fs::path dir = store_.Path("cache/mounts") / oci::Sha256Of(id).hex;
  fs::create_directories(dir);
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
    if (!req.user.empty()) {
      auto u = sandbox::ResolveUser(dirs.merged, req.user);
      spec.uid = u.uid;
      spec.gid = u.gid;
      spec.groups = u.groups;
    }
    const std::string net = !req.run.network.empty() ? req.run.network : opts_.network;
    spec.network = net == "none" ? sandbox::Network::kNone : sandbox::Network::kHost;
    spec.stdin_data = req.stdin_data;
    spec.on_output = req.on_output;

    std::vector<std::unique_ptr<sandbox::OverlayMount>> from_mounts;
    std::vector<oci::Store::TempDir> from_dirs;
    for (size_t i = 0; i < req.run.mounts.size(); ++i) {
      const auto& m = req.run.mounts[i];
      sandbox::Mount sm;
      sm.target = JoinWorkdir(req.cwd, m.target);
      if (m.type == "tmpfs") {
        sm.type = sandbox::Mount::Type::kTmpfs;
        sm.tmpfs_size = m.size.value_or(0);
        sm.readonly = false;
        sm.mode = m.mode.value_or(01777);
      } else if (m.type == "cache") {
        sm.source = CacheMountDir(m.id.empty() ? sm.target : m.id);
        sm.readonly = m.readonly;
        if (m.uid || m.gid) ::chown(sm.source.c_str(), m.uid.value_or(0), m.gid.value_or(0));
        if (m.mode) ::chmod(sm.source.c_str(), *m.mode);
      } else if (m.type == "secret") {
        const std::string id = m.id.empty() ? fs::path(m.target).filename().string() : m.id;
        const SecretSpec* found = nullptr;
        for (const auto& s : opts_.secrets)
          if (s.id == id) found = &s;
        if (!found) {
          if (m.required) throw std::runtime_error("secret " + id + " is required but was not given (--secret id=" + id + ",src=FILE)");
          continue;
        }
        if (!m.env.empty() || !found->env.empty()) {
          if (!found->env.empty()) {
            const char* v = std::getenv(found->env.c_str());
            spec.env.push_back((m.env.empty() ? id : m.env) + "=" + (v ? v : ""));
          }
          if (m.target.empty() && !m.env.empty()) continue;
        }
        if (found->src.empty()) continue;
        sm.source = found->src;
        sm.target = m.target.empty() ? "/run/secrets/" + id : JoinWorkdir(req.cwd, m.target);
        sm.readonly = true;
      } else if (m.type == "bind") {
        const ImageState* from = i < req.mount_from.size() ? req.mount_from[i] : nullptr;
        fs::path root;
        if (from) {
          from_dirs.push_back(store_.MakeTempDir("mountfrom"));
          root = from_dirs.back().path();
          from_mounts.push_back(std::make_unique<sandbox::OverlayMount>(layers_.Lowers(*from), fs::path(), fs::path(), root));
        } else {
          if (!context_) throw std::runtime_error("--mount type=bind needs a build context");
          root = context_->root();
        }
        sm.source = ResolveInRoot(root, "/" + BuildContext::CleanSource(m.source), true);
        sm.readonly = m.readonly;
      } else {
        throw std::runtime_error("--mount type=" + m.type + " is not supported");
      }
      spec.mounts.push_back(std::move(sm));
    }

    sandbox::RunResult result = sandbox::Run(spec);
    if (!result.ok()) throw StepFailed(result.describe(), result.tail);
  }
  auto layer = Finish(dirs.upper);
  return layer;
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
  }
  return Finish(dirs.upper);
}

std::optional<oci::Layer> FsStepRunner::Copy(const ImageState& parent, const CopyRequest& req) {
  const auto& copy = req.copy;
  StepDirs dirs(store_);
  {
    sandbox::OverlayMount mount(layers_.Lowers(parent), dirs.upper, dirs.work, dirs.merged);
    CopyAttrs attrs;
    if (!copy.chown.empty()) {
      auto u = sandbox::ResolveChown(dirs.merged, copy.chown);
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
    std::set<std::string> allowed;  // context paths that survive .dockerignore/--exclude
    size_t source_args = 0;
    std::vector<const frontend::Heredoc*> heredocs;
    std::vector<std::pair<oci::FetchedUrl, std::optional<oci::Store::TempDir>>> fetched;
    for (const auto& s : copy.sources) {
      ++source_args;
      if (s.rfind("<<", 0) == 0) {
        for (const auto& h : copy.heredocs)
          if ("<<" + h.name == s || "<<-" + h.name == s) heredocs.push_back(&h);
        continue;
      }
      if (copy.is_add && IsUrl(s)) {
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
        for (const ContextEntry* b : context_->Below(*e, copy.excludes)) allowed.insert(b->path);
        sources.push_back(CopySource{context_->root() / e->path, e->path, e->is_dir()});
      }
    }
    if (!req.from) attrs.include = [&allowed](const std::string& rel) { return allowed.count(rel) > 0; };
    else if (!copy.excludes.empty()) {
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
    for (const auto& t : PlanCopy(sources, copy.dest, req.workdir, source_args, copy.parents, dest_is_dir)) {
      // ADD: a local tar archive is extracted into the destination directory.
      if (copy.is_add && copy.unpack_default && !t.source.is_dir && !IsUrl(copy.sources.front()) &&
          IsTarArchive(t.source.host_path)) {
        const std::string dir = copy.dest.back() == '/' || dest_is_dir(dest_abs) ? dest_abs : dest_abs;
        oci::ExtractOptions eo;
        eo.overlay_form = false;
        oci::ExtractLayer(t.source.host_path, MkdirAllInRoot(dirs.merged, dir), eo);
        continue;
      }
      CopyInto(dirs.merged, t, attrs);
    }
  }
  return Finish(dirs.upper);
}

}  // namespace kiln::builder
