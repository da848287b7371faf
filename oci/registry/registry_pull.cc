// Pull: manifest negotiation, index -> platform manifest, blobs streamed into
// the store and verified against their digests, in parallel.
#include <mutex>

#include "oci/registry/registry.h"
#include "oci/registry/registry_session.h"

namespace kiln::oci {
namespace {


// Exact variant first; an unspecified variant on either side matches any
// (arm64 images often omit "v8").
const Descriptor& ChoosePlatform(const Index& index, const Platform& want, const std::string& what) {
  const Descriptor* loose = nullptr;
  std::string available;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os == "unknown") continue;  // attestation manifests
    available += (available.empty() ? "" : ", ") + p.str();
    if (p.os != want.os || p.architecture != want.architecture) continue;
    if (p.variant == want.variant) return d;
    if (!loose && (p.variant.empty() || want.variant.empty())) loose = &d;
  }
  if (loose) return *loose;
  throw Error(what + ": no manifest for platform " + want.str() + " in the index (available: " +
              (available.empty() ? "none" : available) + ")");
}

}  // namespace

Descriptor RegistryClient::ResolveManifest(const Reference& ref, const Platform& platform) {
  Descriptor desc;
  const std::string body = GetManifest(ref, &desc);
  if (!media::IsIndexMediaType(desc.media_type)) return desc;
  const Index index = ParseIndex(body);
  const Descriptor chosen = ChoosePlatform(index, platform, "index " + desc.digest.str() + " of " + ref.str());
  Reference child = ref;
  child.digest = chosen.digest.str();
  GetManifest(child, &desc);  // verified against chosen.digest
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
      if (!store.HasBlob(desc.digest)) store.PutBlob(body, desc.media_type);
      const Index index = ParseIndex(body);
      const Descriptor chosen = ChoosePlatform(index, platform, "index " + desc.digest.str());
      Reference child = ref;
      child.digest = chosen.digest.str();
      body = GetManifest(child, &desc);  // verified against chosen.digest
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
      int64_t received = WithRetries(impl_->opts, bwhat, [&](int) {
        // A fresh writer per attempt: a half-written temp file is discarded with the old one.
        Store::BlobWriter writer = store.NewBlob();
        int64_t n = 0;
        HttpRequest req;
        s.EnsurePinged();
        req.url = s.Url("/v2/" + ref.repository + "/blobs/" + blob.digest.str());
        req.sink = [&](const char* data, size_t size) {
          n += static_cast<int64_t>(size);
          if (n > blob.size) {
            throw Error(bwhat + ": registry sent more than the " + std::to_string(blob.size) + " bytes declared");
          }
          writer.Write(data, size);
          return true;
        };
        HttpResponse r = s.Do(req, scopes);
        s.Expect(r, {200}, bwhat);
        if (n != blob.size) {
          throw TransportError(bwhat + ": got " + std::to_string(n) + " of " + std::to_string(blob.size) + " bytes");
        }
        writer.Commit(blob.media_type, blob.digest);  // throws on digest mismatch
        return n;
      });
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

}  // namespace kiln::oci
