// FsStepRunner's RUN --mount set-up: bind mounts of the context, a stage
// or an image, cache mounts and their locks, tmpfs, secrets and ssh.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "builder/config_apply.h"
#include "builder/copy.h"
#include "builder/error.h"
#include "builder/fs_runner.h"
#include "builder/run_mounts.h"
#include "builder/ssh_mount.h"
#include "oci/error.h"
#include "sandbox/copy_snapshot.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/owner_record.h"
#include "sandbox/root_path.h"
#include "sandbox/whiteout.h"

namespace kiln::builder {

namespace fs = std::filesystem;

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
      seed = sandbox::ResolveInRoot(StateView(*from, held), "/" + BuildContext::CleanSource(m.source), true);
      struct stat st {};
      if (::stat(seed.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error({"--mount type=cache from=" + m.from, "source=" + (m.source.empty() ? "/" : m.source),
                     "not a directory in " + m.from, "name a directory of " + m.from + " with source="});
      id += std::string(1, '\0') + "from=" + from->digest.str() + std::string(1, '\0') + "source=" + m.source;
    } else if (!m.source.empty()) {
      throw Error({"--mount type=cache", "source=" + m.source, "a source needs a stage or image to be in",
                   "add from=STAGE_OR_IMAGE, or drop source="});
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
      if (!context_)
        throw Error({"--mount type=bind", "", "needs a build context", "build with a context directory, or add from=STAGE"});
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
    sm.source = sandbox::ResolveInRoot(root, "/" + BuildContext::CleanSource(m.source), true);
    struct stat st {};
    if (::stat(sm.source.c_str(), &st) != 0)
      throw Error({"--mount type=bind source", m.source.empty() ? "." : m.source,
                   std::string("not found in ") + (from ? "the stage" : "the build context")});
    sm.readonly = m.readonly;
    return sm;
  }
  throw Error({"--mount type=" + m.type, "", "not supported", "use bind, cache, tmpfs, secret or ssh"});
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
        else if (errno != EEXIST) ThrowErrno("context view: mkdir", parent);
      }
      sandbox::MakeWhiteout(mask / h);
    }
    for (const auto& d : dirs) {
      struct stat st {};
      const fs::path src = d.empty() ? context_->root() : context_->root() / d;
      if (::lstat(src.c_str(), &st) != 0) ThrowErrno("context view: stat", src.string());
      const fs::path dst = d.empty() ? mask : mask / d;
      const struct timespec ts[2] = {st.st_atim, st.st_mtim};
      if (::chmod(dst.c_str(), st.st_mode & 07777) != 0 || ::utimensat(AT_FDCWD, dst.c_str(), ts, 0) != 0)
        ThrowErrno("context view: set attributes of", dst.string());
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
    if (m.required)
      throw Error({"secret " + id + " is required but was not given", "", "", "pass --secret id=" + id + ",src=FILE"});
    return std::nullopt;  // docker skips an optional secret nobody passed
  }
  std::string value;
  if (!found->src.empty()) {
    try {
      value = sandbox::ReadFileToString(found->src);
    } catch (const std::exception& e) {
      throw Error({"secret", id, e.what(), "pass a readable file with --secret id=" + id + ",src=FILE"});
    }
  } else {
    const char* v = std::getenv(found->env.c_str());
    if (!v) throw Error({"secret", id, "environment variable " + found->env + " is not set", "export " + found->env});
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
      throw Error({"cache mount " + shown + " is mounted twice in one step with different sharing", "", "",
                   "give both mounts the same sharing="});
    bool& exclusive = held.cache_locks[base + ".lock"];
    exclusive = exclusive || m.sharing == "locked";
  } else {
    throw Error({"--mount type=cache", "sharing=" + m.sharing, "expected shared, private or locked"});
  }
  if (!seed.empty() && ::access(dir.c_str(), F_OK) != 0) {
    // Made whole beside it and renamed into place: a build killed halfway
    // leaves no half-seeded cache, and of two builds seeding at once the
    // first rename wins.
    oci::Store::TempDir tmp = store_.MakeTempDir("cacheseed");
    const fs::path made = tmp.path() / "seed";
    struct stat st {};
    if (::mkdir(made.c_str(), 0700) != 0 || ::lstat(seed.c_str(), &st) != 0)
      ThrowErrno("cache mount " + shown + ": seeding", made.string());
    sandbox::CopyMergedLowers({seed}, made);
    if (::chown(made.c_str(), st.st_uid, st.st_gid) != 0 || ::chmod(made.c_str(), st.st_mode & 07777) != 0)
      ThrowErrno("cache mount " + shown + ": seeding", made.string());
    if (::rename(made.c_str(), dir.c_str()) != 0 && errno != EEXIST && errno != ENOTEMPTY)
      ThrowErrno("cache mount " + shown + ": rename into", dir.string());
    return dir;
  }
  if (::mkdir(dir.c_str(), 0755) == 0) {
    // uid/gid/mode apply when the cache is created, as in BuildKit.
    try {
      sandbox::SetOwner(dir.string(), m.uid.value_or(0), m.gid.value_or(0));
    } catch (const sandbox::Error& e) {
      throw Error({"cache mount", shown, e.what()});
    }
    ::chmod(dir.c_str(), m.mode.value_or(0755));
  } else if (errno != EEXIST) {
    ThrowErrno("cache mount " + shown + ": mkdir", dir.string(), "check the free space and permissions of the store");
  }
  return dir;
}

}  // namespace kiln::builder
