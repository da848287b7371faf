// Pull: manifest negotiation, index -> platform manifest, blobs streamed into
// the store and verified against their digests, in parallel.
#include <mutex>
#include <optional>

#include "oci/registry/registry.h"
#include "oci/registry/registry_session.h"

namespace kiln::oci {

Descriptor RegistryClient::ResolveManifest(const Reference& ref, const Platform& platform) {
  Descriptor desc;
  const std::string body = GetManifest(ref, &desc);
  if (!media::IsIndexMediaType(desc.media_type)) return desc;
  const Index index = ParseIndex(body);
  const Descriptor chosen = ChooseManifest(index, platform, "index " + desc.digest.str() + " of " + ref.str());
  Reference child = ref;
  child.digest = chosen.digest.str();
  GetManifest(child, &desc, chosen.size);  // verified against chosen.digest
  desc.platform = chosen.platform;
  return desc;
}

Descriptor RegistryClient::Pull(const Reference& ref, Store& store, const Platform& platform, TransferStats* stats) {
  const std::string what = "pull " + ref.str();
  try {
    RegistrySession& s = impl_->Session(ref);
    Descriptor desc;
    std::string body = GetManifest(ref, &desc);
    if (media::IsIndexMediaType(desc.media_type)) {
      const Index index = ParseIndex(body);
      // Chosen first: an index without the platform leaves nothing in the store.
      const Descriptor chosen = ChooseManifest(index, platform, "index " + desc.digest.str());
      if (!store.HasBlob(desc.digest)) store.PutBlob(body, desc.media_type);
      Reference child = ref;
      child.digest = chosen.digest.str();
      body = GetManifest(child, &desc, chosen.size);  // verified against chosen.digest
      desc.platform = chosen.platform;
      if (media::IsIndexMediaType(desc.media_type)) throw Error("index " + chosen.digest.str() + " points at another index");
    }
    if (desc.media_type != media::kOciManifest && desc.media_type != media::kDockerManifest) {
      throw Error("unsupported manifest media type \"" + desc.media_type + "\"");
    }
    Manifest manifest = ParseManifest(body);

    std::vector<Descriptor> wanted;
    std::vector<Descriptor> blobs = {manifest.config};
    blobs.insert(blobs.end(), manifest.layers.begin(), manifest.layers.end());
    std::mutex mu;
    for (const auto& b : blobs) {
      bool dup = false;
      for (const auto& w : wanted) dup = dup || w.digest == b.digest;
      if (dup) continue;
      if (store.HasBlob(b.digest)) {
        if (stats) stats->blobs_skipped++;
        impl_->Progress("blob " + b.digest.str() + ": already in the store");
        continue;
      }
      wanted.push_back(b);
    }
    const std::vector<std::string> scopes = {RepositoryScope(ref.repository, "pull")};
    ParallelFor(impl_->opts.parallel, wanted, [&](const Descriptor& blob) {
      const std::string bwhat = "GET blob " + blob.digest.str();
      // One writer across attempts: a retry asks for the rest (Range) and
      // appends; the digest is checked over the whole at Commit regardless.
      std::optional<Store::BlobWriter> writer(store.NewBlob());
      int64_t n = 0;
      auto restart = [&] {
        writer.emplace(store.NewBlob());  // the partial temp file goes with the old writer
        n = 0;
      };
      const int64_t received = WithRetries(impl_->opts, bwhat, [&](int) {
        HttpRequest req;
        s.EnsurePinged();
        req.url = s.Url("/v2/" + ref.repository + "/blobs/" + blob.digest.str());
        const int64_t from = n;
        if (from > 0) req.headers.push_back("Range: bytes=" + std::to_string(from) + "-");
        req.on_body_start = [&](long status, const HttpResponse& head) {
          if (from == 0) return;
          if (status != 206) {
            restart();  // Range not supported: the whole blob again
            return;
          }
          const std::string cr = head.Header("content-range");  // "bytes 100-199/200"
          if (!cr.starts_with("bytes " + std::to_string(from) + "-")) {
            restart();
            throw TransportError(bwhat + ": asked for bytes from " + std::to_string(from) +
                                 ", got Content-Range \"" + cr + "\"; starting over");
          }
          impl_->Progress(bwhat + ": resuming at byte " + std::to_string(from));
        };
        req.sink = [&](const char* data, size_t size) {
          if (n + static_cast<int64_t>(size) > blob.size) {
            throw Error(bwhat + ": registry sent more than the " + std::to_string(blob.size) + " bytes declared");
          }
          n += static_cast<int64_t>(size);
          writer->Write(data, size);
          return true;
        };
        HttpResponse r = s.Do(req, scopes);
        if (r.status == 416 && from > 0) {
          restart();
          throw TransportError(bwhat + ": registry refused the range from byte " + std::to_string(from) +
                               "; starting over");
        }
        s.Expect(r, {200, 206}, bwhat);
        if (n != blob.size) {
          throw TransportError(bwhat + ": got " + std::to_string(n) + " of " + std::to_string(blob.size) + " bytes");
        }
        return n;
      }, &n);
      try {
        writer->Commit(blob.media_type, blob.digest);
      } catch (const Error& e) {
        // All bytes arrived and they are not the blob: damaged in transit or
        // served wrong. Not retried; nothing is stored.
        throw Error(bwhat + " (" + blob.media_type + ", " + std::to_string(blob.size) + " bytes): " + e.what());
      }
      RecordBlobSource(store, blob.digest, ref.registry, ref.repository);
      std::lock_guard lock(mu);
      if (stats) {
        stats->blobs_downloaded++;
        stats->bytes += received;
      }
      impl_->Progress("blob " + blob.digest.str() + ": downloaded " + std::to_string(received) + " bytes");
    });

    if (!store.HasBlob(desc.digest)) store.PutBlob(body, desc.media_type);
    RecordBlobSource(store, desc.digest, ref.registry, ref.repository);
    return desc;
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

Descriptor RegistryClient::PullAllPlatforms(const Reference& ref, Store& store, TransferStats* stats) {
  Descriptor top;
  const std::string body = GetManifest(ref, &top);
  if (!media::IsIndexMediaType(top.media_type)) return Pull(ref, store, Platform::Host(), stats);
  const Index index = ParseIndex(body);
  for (const Descriptor& m : index.manifests) {
    Reference child = ref;
    child.digest = m.digest.str();
    if (media::IsIndexMediaType(m.media_type))
      throw Error("pull " + ref.str() + ": index " + top.digest.str() + " lists another index " + m.digest.str());
    Pull(child, store, Platform::Host(), stats);  // by digest: that manifest, whatever its platform
  }
  // The index last: a store never holds an index whose manifests are missing.
  if (!store.HasBlob(top.digest)) store.PutBlob(body, top.media_type);
  RecordBlobSource(store, top.digest, ref.registry, ref.repository);
  return top;
}

}  // namespace kiln::oci
