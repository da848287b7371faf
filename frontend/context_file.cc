#include "frontend/context_file.h"

#include <filesystem>
#include <system_error>

#include "frontend/error.h"

namespace kiln::frontend {

namespace fs = std::filesystem;

std::string FindDockerfile(const std::string& context_dir) {
  Location where{context_dir, 0, 0, 0};
  std::error_code ec;
  if (!fs::is_directory(context_dir, ec)) {
    throw Error(where, "build context is not a directory" +
                           (ec ? ": " + ec.message() : std::string()));
  }
  for (const char* name : {"Dockerfile", "Containerfile"}) {
    fs::path candidate = fs::path(context_dir) / name;
    fs::file_status st = fs::status(candidate, ec);  // follows symlinks
    if (fs::is_regular_file(st)) return candidate.string();
    if (fs::exists(st)) {
      throw Error(where, std::string(name) + " in the build context is not a regular file");
    }
  }
  throw Error(where, "no Dockerfile or Containerfile in the build context (use -f to name one)");
}

}  // namespace kiln::frontend
