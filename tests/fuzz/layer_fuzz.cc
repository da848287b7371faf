// libFuzzer target: layer blobs come from registries and image files that
// others control. Reading one (ForEachEntry) and extracting it
// (ExtractLayer, both whiteout forms) must never crash, and extraction must
// never write outside its target, whatever the archive says (.., absolute
// names, symlinks and hardlinks pointing out, ...). Errors are oci::Error.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "oci/error.h"
#include "oci/layer/layer.h"

namespace fs = std::filesystem;

namespace {

// Extraction may leave dirs it made read-only (mode 0500 in the archive).
void RemoveAll(const fs::path& p) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  fs::remove_all(p, ec);
}

// Everything under `dir`, so a change outside the target is seen.
size_t CountEntries(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    n++;
  }
  return n;
}

// One scratch dir per fuzzing process: blob, target/, and a sentinel dir
// beside the target that an escaping entry would land in.
const fs::path& Scratch() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path()) /
                       "kiln-layer-fuzz.XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();
    fs::create_directories(fs::path(tmpl) / "outside");
    return fs::path(tmpl);
  }();
  // Registered after `dir` is made, so it runs before `dir` is destroyed.
  static const int cleanup = std::atexit([] { RemoveAll(dir); });
  (void)cleanup;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::oci;
  if (size > (1 << 20)) return 0;
  const fs::path& dir = Scratch();
  const fs::path blob = dir / "blob", target = dir / "target";
  {
    std::ofstream out(blob, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }

  try {
    ForEachEntry(blob, [](const TarEntry& e, const ReadFn& read) {
      if (e.path.find("..") == 0 && (e.path.size() == 2 || e.path[2] == '/')) std::abort();
      char buf[4096];
      while (read(buf, sizeof buf) > 0) {
      }
    });
  } catch (const Error&) {
  }

  // Both forms: overlay lower dir (whiteouts as 0/0 devices) and flattening.
  for (bool overlay_form : {true, false}) {
    RemoveAll(target);
    fs::create_directories(target);
    ExtractOptions opts;
    opts.overlay_form = overlay_form;
    opts.keep_owners = false;
    opts.warn = [](const std::string&) {};
    try {
      ExtractLayer(blob, target, opts);
    } catch (const Error&) {
    }
    // Nothing but blob, outside/ (empty) and target/ may exist in the scratch dir.
    if (CountEntries(dir / "outside") != 0) std::abort();
    size_t top = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename();
      if (name != "blob" && name != "target" && name != "outside") std::abort();
      top++;
    }
    if (top != 3) std::abort();
    // The escape_symlink seed's absolute link points here.
    if (fs::exists("/dev/shm/kiln-fuzz-evil")) std::abort();
  }
  RemoveAll(target);
  return 0;
}
