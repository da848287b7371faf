#include "builder/stdin_context.h"

#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>

#include "builder/error.h"
#include "oci/layer/layer.h"

namespace kiln::builder {
namespace {

// docker's archive detection: a compression magic, or "ustar" at offset 257.
bool LooksLikeArchive(const std::string& head) {
  auto starts = [&](const char* magic, size_t n) { return head.size() >= n && std::memcmp(head.data(), magic, n) == 0; };
  if (starts("\x1f\x8b", 2) || starts("BZh", 3) || starts("\xfd" "7zXZ\x00", 6) || starts("\x28\xb5\x2f\xfd", 4))
    return true;
  return head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
}

}  // namespace

StdinContext ReadStdinContext(const oci::Store& store, const std::string& dockerfile) {
  if (dockerfile == "-")
    throw Error({"the build context and -f cannot both come from stdin", "", "", "name the Dockerfile with -f PATH"});
  StdinContext out{store.MakeTempDir("stdin-context"), "", ""};
  const auto ctx = out.dir.path() / "context";
  out.context_dir = ctx.string();
  const auto input = out.dir.path() / "stdin";
  std::filesystem::create_directory(ctx);
  // Checked first: inserting an empty streambuf sets failbit, which would
  // read as a write error below.
  if (std::cin.rdbuf()->sgetc() == std::char_traits<char>::eof())
    throw Error({"build context from stdin", "", "stdin is empty", "pipe a tar archive or a Dockerfile into kiln build -"});
  {
    std::ofstream f(input, std::ios::binary);
    f << std::cin.rdbuf();
    if (!f.flush()) throw Error({"build context from stdin: write", input.string(), "failed", "check the free space of the store"});
  }
  std::string head(512, '\0');
  {
    std::ifstream f(input, std::ios::binary);
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(f.gcount()));
  }
  if (!LooksLikeArchive(head)) {
    if (!dockerfile.empty()) {
      throw Error({"build context from stdin", "",
                   "stdin is no tar archive, so it is the Dockerfile; -f " + dockerfile + " cannot be used with it",
                   "drop -f, or pipe a tar archive of the context"});
    }
    out.dockerfile = input.string();
    return out;
  }
  oci::ExtractOptions opts;
  opts.overlay_form = false;
  opts.keep_owners = false;
  opts.warn = [](const std::string& w) { std::cerr << "kiln: " << w << "\n"; };
  oci::ExtractLayer(input, ctx, opts);
  std::filesystem::remove(input);
  if (!dockerfile.empty() && std::filesystem::path(dockerfile).is_relative())
    out.dockerfile = (ctx / dockerfile).string();
  return out;
}

}  // namespace kiln::builder
