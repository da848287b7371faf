// Push: blobs (HEAD to skip, cross-repository mount, monolithic or chunked
// upload with resume), then the manifest by tag or digest.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "oci/registry/registry.h"
#include "oci/registry/registry_session.h"

namespace kiln::oci {
namespace {

// Reads [offset, offset+length) of a file for an upload body.
class FileSlice {
 public:
  FileSlice(const std::string& path, int64_t offset, int64_t length) : path_(path), left_(length) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) ThrowErrno("open " + path);
    if (::lseek(fd_, offset, SEEK_SET) < 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
      ThrowErrno("seek " + path);
    }
  }
  ~FileSlice() { ::close(fd_); }
  FileSlice(const FileSlice&) = delete;
  FileSlice& operator=(const FileSlice&) = delete;

  size_t Read(char* buf, size_t max) {
    size_t want = static_cast<size_t>(std::min<int64_t>(left_, static_cast<int64_t>(max)));
    if (want == 0) return 0;
    ssize_t n;
    do {
      n = ::read(fd_, buf, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) ThrowErrno("read " + path_);
    if (n == 0) throw Error("read " + path_ + ": file shorter than its descriptor says");
    left_ -= n;
    return static_cast<size_t>(n);
  }

 private:
  std::string path_;
  int64_t left_;
  int fd_ = -1;
};

std::string WithQuery(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

// Bytes an upload session holds, from its Range header "0-<last byte>"
// (distribution also sends "0-0" for an empty session).
int64_t RangeEnd(const std::string& range) {
  auto dash = range.find('-');
  if (range.empty() || dash == std::string::npos) return 0;
  const int64_t last = std::atoll(range.c_str() + dash + 1);
  return last == 0 ? 0 : last + 1;
}


}  // namespace

void RegistryClient::PushBlob(const Store& store, const Reference& repo, const Descriptor& blob,
                              TransferStats* stats) {
  RegistrySession& s = impl_->Session(repo);
  const RegistryOptions& opts = impl_->opts;
  const std::string blob_url = "/v2/" + repo.repository + "/blobs/" + blob.digest.str();
  const std::vector<std::string> scopes = {RepositoryScope(repo.repository, "pull,push")};
  static std::mutex stats_mu;
  auto count = [&](int TransferStats::*field, int64_t bytes) {
    std::lock_guard lock(stats_mu);
    if (!stats) return;
    stats->*field += 1;
    stats->bytes += bytes;
  };

  // 1. Already there?
  auto head = WithRetries(opts, "HEAD blob " + blob.digest.str(), [&](int) {
    HttpRequest req;
    req.method = "HEAD";
    s.EnsurePinged();
    req.url = s.Url(blob_url);
    HttpResponse r = s.Do(req, scopes);
    if (r.status != 404) s.Expect(r, {200}, "HEAD blob " + blob.digest.str());
    return r;
  });
  if (head.status == 200) {
    count(&TransferStats::blobs_skipped, 0);
    impl_->Progress("blob " + blob.digest.str() + ": already in " + repo.repository);
    RecordBlobSource(store, blob.digest, repo.registry, repo.repository);
    return;
  }

  // 2. Mount from another repository of this registry that we know holds it.
  std::string location;
  for (const auto& source : BlobSources(store, blob.digest)) {
    const std::string prefix = repo.registry + "/";
    if (!source.starts_with(prefix) || source == prefix + repo.repository) continue;
    const std::string from = source.substr(prefix.size());
    std::vector<std::string> mount_scopes = scopes;
    mount_scopes.push_back(RepositoryScope(from, "pull"));
    const std::string mwhat = "mount blob " + blob.digest.str() + " from " + from;
    HttpResponse r = WithRetries(opts, mwhat, [&](int) {
      HttpRequest req;
      req.method = "POST";
      s.EnsurePinged();
      req.url = s.Url("/v2/" + repo.repository + "/blobs/uploads/?mount=" + UrlEscape(blob.digest.str()) +
                      "&from=" + UrlEscape(from));
      HttpResponse resp = s.Do(req, mount_scopes);
      s.Expect(resp, {201, 202}, mwhat);
      return resp;
    });
    if (r.status == 201) {
      count(&TransferStats::blobs_mounted, 0);
      impl_->Progress("blob " + blob.digest.str() + ": mounted from " + from);
      RecordBlobSource(store, blob.digest, repo.registry, repo.repository);
      return;
    }
    // 202: the registry could not mount (e.g. we may not read `from`) and opened
    // an ordinary upload session instead; use it.
    location = s.Resolve(r.Header("location"));
    break;
  }

  // 3. Upload. State survives retries: a chunked upload resumes where the
  // registry says its session stands, and a session that cannot say so is
  // abandoned for a new one, never closed. The closing PUT is sent only when
  // the registry has confirmed every byte.
  const std::string path = store.BlobPath(blob.digest).string();
  const std::string uwhat = "upload blob " + blob.digest.str();
  int64_t offset = 0;  // bytes the registry has confirmed in the session at `location`
  int rejections = 0;
  bool already_there = false;
  // The requests that only read or open state (session status, HEAD, POST)
  // are retried on their own, so that one attempt at the body costs one
  // request that can fail, not four.
  WithRetries(opts, uwhat, [&](int attempt) {
    s.EnsurePinged();
    if (attempt > 0) {
      bool resumed = false;
      if (!location.empty() && blob.size > opts.chunk_size) {
        HttpResponse r = WithRetries(opts, uwhat + ": upload status", [&](int) {
          HttpRequest req;
          req.url = location;
          HttpResponse st = s.Do(req, scopes);
          if (IsRetryableStatus(st.status)) s.Expect(st, {204}, uwhat + ": upload status");
          return st;
        });
        if (r.status == 204) {
          offset = RangeEnd(r.Header("range"));
          if (!r.Header("location").empty()) location = s.Resolve(r.Header("location"));
          impl_->Progress(uwhat + ": resuming at byte " + std::to_string(offset));
          resumed = true;
        } else {
          location.clear();  // session gone (404) or unreadable: start over
        }
      } else {
        location.clear();  // a monolithic PUT that failed: its session is spent
      }
      if (!resumed) {
        // The last attempt may have finished on the registry's side before
        // the connection broke: then there is nothing left to do.
        HttpResponse r = WithRetries(opts, "HEAD blob " + blob.digest.str(), [&](int) {
          HttpRequest req;
          req.method = "HEAD";
          req.url = s.Url(blob_url);
          HttpResponse h = s.Do(req, scopes);
          if (h.status != 404) s.Expect(h, {200}, "HEAD blob " + blob.digest.str());
          return h;
        });
        if (r.status == 200) {
          already_there = true;
          return 0;
        }
      }
    }
    if (location.empty()) {
      offset = 0;
      HttpResponse r = WithRetries(opts, "POST blob upload", [&](int) {
        HttpRequest req;
        req.method = "POST";
        req.url = s.Url("/v2/" + repo.repository + "/blobs/uploads/");
        HttpResponse p = s.Do(req, scopes);
        s.Expect(p, {202}, "POST blob upload");
        return p;
      });
      if (r.Header("location").empty()) throw Error("POST blob upload: 202 without Location");
      location = s.Resolve(r.Header("location"));
    }
    if (blob.size <= opts.chunk_size) {
      FileSlice slice(path, 0, blob.size);
      HttpRequest req;
      req.method = "PUT";
      req.url = WithQuery(location, "digest=" + UrlEscape(blob.digest.str()));
      req.headers.push_back("Content-Type: application/octet-stream");
      req.body_reader = [&](char* buf, size_t max) { return slice.Read(buf, max); };
      req.body_size = blob.size;
      HttpResponse r = s.Do(req, scopes);
      RejectedContentIsRetried(s, r, {201}, "PUT blob " + blob.digest.str(), rejections, true);
      return 0;
    }
    while (offset < blob.size) {
      int64_t len = std::min(opts.chunk_size, blob.size - offset);
      FileSlice slice(path, offset, len);
      HttpRequest req;
      req.method = "PATCH";
      req.url = location;
      req.headers.push_back("Content-Type: application/octet-stream");
      req.headers.push_back("Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + len - 1));
      req.body_reader = [&](char* buf, size_t max) { return slice.Read(buf, max); };
      req.body_size = len;
      HttpResponse r = s.Do(req, scopes);
      const std::string pwhat = "PATCH blob " + blob.digest.str() + " bytes " + std::to_string(offset) + "-" +
                                std::to_string(offset + len - 1);
      // A session that refused what was sent is not trusted further: its
      // bytes are no longer known, so a retry opens a new one.
      if (r.status == 400 || r.status == 404 || r.status == 416) location.clear();
      RejectedContentIsRetried(s, r, {202}, pwhat, rejections, true);
      if (!r.Header("location").empty()) location = s.Resolve(r.Header("location"));
      // The registry says how far it got; a chunk that arrived short is
      // continued from there rather than assumed whole.
      const int64_t confirmed = RangeEnd(r.Header("range"));
      if (confirmed <= offset || confirmed > offset + len) {
        throw TransportError(pwhat + ": registry confirms " + std::to_string(confirmed) + " bytes (Range \"" +
                             r.Header("range") + "\"); checking the session");
      }
      if (confirmed != offset + len) {
        impl_->Progress(pwhat + ": registry took " + std::to_string(confirmed - offset) + " bytes; continuing there");
      }
      offset = confirmed;
    }
    HttpRequest req;
    req.method = "PUT";
    req.url = WithQuery(location, "digest=" + UrlEscape(blob.digest.str()));
    req.headers.push_back("Content-Type: application/octet-stream");
    HttpResponse r = s.Do(req, scopes);
    if (r.status == 400 || r.status == 404 || r.status == 416) location.clear();  // e.g. a chunk damaged in transit
    RejectedContentIsRetried(s, r, {201}, "PUT blob " + blob.digest.str(), rejections, true);
    return 0;
  }, &offset);
  if (already_there) {
    count(&TransferStats::blobs_uploaded, blob.size);
    impl_->Progress("blob " + blob.digest.str() + ": upload completed before the connection broke");
    RecordBlobSource(store, blob.digest, repo.registry, repo.repository);
    return;
  }
  count(&TransferStats::blobs_uploaded, blob.size);
  impl_->Progress("blob " + blob.digest.str() + ": uploaded " + std::to_string(blob.size) + " bytes");
  RecordBlobSource(store, blob.digest, repo.registry, repo.repository);
}

namespace {

// An image manifest's config and layers, each once.
std::vector<Descriptor> DistinctBlobs(const Manifest& m) {
  std::vector<Descriptor> blobs;
  blobs.push_back(m.config);
  for (const auto& l : m.layers)
    if (std::none_of(blobs.begin(), blobs.end(), [&](const Descriptor& b) { return b.digest == l.digest; }))
      blobs.push_back(l);
  return blobs;
}

// How many distinct blobs `desc` references in the store (through an index's
// local children too): what a re-push reports as already there.
int CountReferencedBlobs(const Store& store, const Descriptor& desc) {
  const std::string body = store.ReadBlob(desc.digest);
  if (media::IsIndexMediaType(desc.media_type)) {
    int n = 0;
    for (const auto& child : ParseIndex(body).manifests)
      if (store.HasBlob(child.digest)) n += CountReferencedBlobs(store, child);
    return n;
  }
  return static_cast<int>(DistinctBlobs(ParseManifest(body)).size());
}

// Pushes everything `desc` references (not `desc` itself), depth first.
void PushReferenced(RegistryClient& client, const RegistryOptions& opts, const Store& store, const Descriptor& desc,
                    const Reference& repo, TransferStats* stats) {
  std::string body = store.ReadBlob(desc.digest);
  if (media::IsIndexMediaType(desc.media_type)) {
    for (const auto& child : ParseIndex(body).manifests) {
      if (!store.HasBlob(child.digest)) {
        // Only part of a multi-platform index may be local; the rest must already be there.
        Reference by_digest = repo;
        by_digest.tag.clear();
        by_digest.digest = child.digest.str();
        if (!client.HeadManifest(by_digest)) {
          throw Error("manifest " + child.digest.str() + " of the index is neither in the store nor in " +
                      repo.registry + "/" + repo.repository);
        }
        continue;
      }
      PushReferenced(client, opts, store, child, repo, stats);
      Reference by_digest = repo;
      by_digest.tag.clear();
      by_digest.digest = child.digest.str();
      client.PutManifest(by_digest, store.ReadBlob(child.digest), child.media_type);
    }
    return;
  }
  const std::vector<Descriptor> blobs = DistinctBlobs(ParseManifest(body));
  for (const auto& b : blobs)
    if (!store.HasBlob(b.digest)) throw Error("blob " + b.digest.str() + " is not in the store");
  ParallelFor(opts.parallel, blobs, [&](const Descriptor& b) { client.PushBlob(store, repo, b, stats); });
}

}  // namespace

Digest RegistryClient::Push(const Store& store, const Descriptor& manifest, const Reference& ref,
                            TransferStats* stats) {
  try {
    if (!ref.digest.empty() && ref.digest != manifest.digest.str()) {
      throw Error("reference digest " + ref.digest + " is not the manifest's " + manifest.digest.str());
    }
    Reference target = ref;
    if (!target.tag.empty()) {
      target.digest.clear();
    } else {
      target.digest = manifest.digest.str();
    }
    // Re-push: a registry accepts a manifest only when everything it references
    // is there, so a tag that already names this digest leaves nothing to send
    // (one HEAD instead of one per blob and a manifest PUT), and a manifest
    // that is there under its digest only needs the new tag.
    if (auto there = HeadManifest(target, "pull,push"); there && there->digest == manifest.digest) {
      if (stats) stats->blobs_skipped += CountReferencedBlobs(store, manifest);
      impl_->Progress("manifest " + manifest.digest.str() + ": already in " + target.str());
      return manifest.digest;
    }
    Reference by_digest = target;
    by_digest.tag.clear();
    by_digest.digest = manifest.digest.str();
    if (!target.tag.empty() && HeadManifest(by_digest, "pull,push")) {
      if (stats) stats->blobs_skipped += CountReferencedBlobs(store, manifest);
    } else {
      PushReferenced(*this, impl_->opts, store, manifest, ref, stats);
    }
    PutManifest(target, store.ReadBlob(manifest.digest), manifest.media_type);
    RecordBlobSource(store, manifest.digest, ref.registry, ref.repository);
    impl_->Progress("manifest " + manifest.digest.str() + ": pushed as " + target.str());
    return manifest.digest;
  } catch (const Error& e) {
    throw Error("push " + ref.str() + ": " + e.what());
  }
}

}  // namespace kiln::oci
