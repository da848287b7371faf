// libFuzzer target: .dockerignore reading and matching must never crash.
// Input layout: "<ignore file>\0<path>\0<path>...": the ignore file is read
// as a .dockerignore and every path is tried against it, also as a
// directory a walker might descend into.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/dockerignore.h"
#include "frontend/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::frontend;
  if (size > 8192) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  size_t nul = rest.find('\0');
  const std::string_view file = rest.substr(0, nul);
  std::vector<std::string> paths;
  while (nul != std::string_view::npos) {
    rest.remove_prefix(nul + 1);
    nul = rest.find('\0');
    paths.emplace_back(rest.substr(0, nul));
  }
  if (paths.empty()) paths = {"a", "a/b/c", ".", ""};

  const std::vector<std::string> patterns = ReadIgnoreFile(file);
  try {
    IgnoreMatcher matcher(patterns);
    for (const std::string& p : paths) {
      const std::string clean = CleanPath(p);
      try {
        matcher.Excluded(clean);
        matcher.MayIncludeBelow(clean);
        matcher.LegacyMatches(clean);
      } catch (const Error&) {  // a class like [z-a] fails only when matched
      }
    }
  } catch (const Error&) {
  }
  for (const std::string& p : paths) {
    try {
      IgnoreMatches(p, patterns);
    } catch (const Error&) {
    }
  }
  return 0;
}
