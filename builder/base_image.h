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
#include <string>

#include "builder/image_state.h"
#include "oci/image.h"
#include "oci/store.h"

namespace kiln::builder {

struct BaseImageOptions {
  bool always_pull = false;
  bool insecure = false;
  oci::Platform platform = oci::Platform::Host();
  std::function<void(const std::string&)> note;  // "pulling ...", one line per event
};

// The state of an image already in the store.
ImageState StateFromManifest(const oci::Store& store, const oci::Descriptor& manifest);

// The store's tag for a user-written reference ("busybox" -> "busybox:latest").
std::string NormalizeTag(const std::string& ref);

class BaseImageResolver {
 public:
  BaseImageResolver(oci::Store& store, BaseImageOptions opts);
  const ImageState& Resolve(const std::string& name);

 private:
  ImageState Load(const std::string& name);
  oci::Store& store_;
  BaseImageOptions opts_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ImageState>> done_;
};

}  // namespace kiln::builder
