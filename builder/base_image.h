// Resolving a FROM (or COPY --from=<image>) to an image state:
//   oci:PATH[:TAG]   an OCI image layout on disk (imported into the store)
//   NAME             the local store's tag if present (docker semantics),
//                    pulled when missing or with --pull; plain HTTP is
//                    allowed for localhost/127.0.0.1 registries
// Results are memoised per build; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "builder/image_state.h"
#include "oci/image.h"
#include "oci/store/store.h"
#include "oci/registry/registries_conf.h"

namespace kiln::builder {

struct BaseImageOptions {
  bool always_pull = false;
  bool insecure = false;
  oci::Platform platform = oci::Platform::Host();
  // --platform was given: a local tag is used only when it is (or its index
  // has) an image for `platform`, else the image is pulled for it; an image
  // pulled for another platform than the host's is not tagged (the host's
  // builds would take it). Without it a local tag is used as it is.
  bool platform_given = false;
  std::function<void(const std::string&)> note;  // "pulling ...", one line per event
  // Called with a freshly pulled image before it is tagged in the store;
  // throwing leaves it untagged.
  std::function<void(const std::string& name, const ImageState&)> verify;
  // --build-context NAME=VALUE: what FROM NAME / COPY --from=NAME mean
  // instead (builder/named_context.h).
  std::map<std::string, std::string> named_contexts;
  oci::RegistriesConf registries;  // short names, mirrors, insecure, blocked
};

// The state of an image already in the store.
ImageState StateFromManifest(const oci::Store& store, const oci::Descriptor& manifest);

// The store's tag for a user-written reference ("busybox" -> "busybox:latest").
std::string NormalizeTag(const std::string& ref);

// An image the build actually used (FROM or COPY --from=<image>), for the
// provenance's resolvedDependencies.
struct UsedImage {
  std::string name;      // as written: "busybox", "127.0.0.1:5000/app:1", "oci:/path:tag"
  std::string uri;       // "pkg:docker/busybox@latest?platform=linux%2Famd64", "oci-layout:/path?tag=tag"
  oci::Digest manifest;  // the image manifest used (after platform resolution)
};

class BaseImageResolver {
 public:
  BaseImageResolver(oci::Store& store, BaseImageOptions opts);
  const ImageState& Resolve(const std::string& name);
  // Every image resolved so far, sorted by name.
  std::vector<UsedImage> Used() const;

 private:
  ImageState Load(const std::string& name, UsedImage& used);
  // The store's image under `tag` for opts_.platform, if it has one.
  std::optional<oci::Descriptor> LocalImage(const std::string& tag) const;
  oci::Store& store_;
  BaseImageOptions opts_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ImageState>> done_;
  std::map<std::string, UsedImage> used_;
};

}  // namespace kiln::builder
