#include "builder/named_context.h"

#include <stdexcept>

#include "builder/config_apply.h"
#include "builder/copy.h"
#include "builder/stage_executor.h"
#include "oci/layer/layer.h"

namespace kiln::builder {

namespace fs = std::filesystem;

NamedContext ParseNamedContext(const std::string& name, const std::string& value) {
  const std::string flag = "--build-context " + name + "=" + value;
  auto starts = [&](const char* p) { return value.rfind(p, 0) == 0; };
  NamedContext nc;
  if (starts("docker-image://")) {
    nc.target = value.substr(15);
    if (nc.target.empty()) throw std::invalid_argument(flag + ": no image reference after docker-image://");
    return nc;
  }
  if (starts("oci-layout://")) {
    std::string path = value.substr(13);
    if (path.find('@') != std::string::npos)
      throw std::invalid_argument(flag + ": kiln picks an image in a layout by tag (oci-layout://PATH:TAG), not by digest");
    nc.target = "oci:" + path;
    return nc;
  }
  if (starts("git://") || starts("https://") || starts("http://") || starts("ssh://") || starts("target:") ||
      starts("input:"))
    throw std::invalid_argument(flag + ": kiln takes a directory, docker-image:// or oci-layout:// here");
  std::error_code ec;
  if (!fs::is_directory(value, ec))
    throw std::invalid_argument(flag + ": no such directory (a named context is a directory, docker-image://REF or "
                                "oci-layout://PATH[:TAG])");
  nc.kind = NamedContext::Kind::kDirectory;
  nc.target = fs::absolute(value).lexically_normal().string();
  return nc;
}

ImageState DirectoryState(const oci::Store& store, const fs::path& dir,
                          const std::function<void(const std::string&)>& note) {
  if (note) note("reading build context " + dir.string());
  // Copied as COPY copies the main context: owned by root (the host's
  // owners mean nothing in the image), modes and mtimes kept, so the same
  // files make the same layer.
  oci::Store::TempDir tmp = store.MakeTempDir("named-context");
  const fs::path root = tmp.path() / "root";
  fs::create_directory(root);
  CopyTarget all;
  all.source = CopySource{dir, "", true};
  all.dest = "/";
  all.contents = true;
  CopyInto(root, all, CopyAttrs{});
  const oci::Layer layer = oci::WriteLayer(store, root, oci::LayerOptions{});
  store.AdoptLayerDir(root, layer.diff_id);
  ImageState st;
  st.config = ScratchConfig(oci::Platform::Host());
  st.config.diff_ids.push_back(layer.diff_id);
  st.layers.push_back(layer.blob);
  oci::History h;
  h.created_by = "build context " + dir.string();
  st.config.history.push_back(h);
  st.digest = BaseStateDigest("context", layer.diff_id.str());
  return st;
}

}  // namespace kiln::builder
