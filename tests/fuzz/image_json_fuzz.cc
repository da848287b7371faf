// libFuzzer target: the image config, manifest and index readers
// (oci/image.h) take JSON that a registry or an image file controls. They
// must either throw oci::Error or return something that writes back to JSON
// which reads again to the same canonical bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/error.h"
#include "oci/image.h"

namespace {

template <typename T, typename ParseFn>
void RoundTrip(std::string_view json, ParseFn parse) {
  std::string first;
  try {
    first = kiln::oci::ToJson(static_cast<const T&>(parse(json)));
  } catch (const kiln::oci::Error&) {
    return;
  }
  // What kiln writes it must read back, unchanged.
  std::string second;
  try {
    second = kiln::oci::ToJson(static_cast<const T&>(parse(first)));
  } catch (const kiln::oci::Error&) {
    std::abort();
  }
  if (first != second) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::oci;
  if (size > 65536) return 0;
  std::string_view json(reinterpret_cast<const char*>(data), size);
  RoundTrip<ImageConfig>(json, ParseImageConfig);
  RoundTrip<Manifest>(json, ParseManifest);
  RoundTrip<Index>(json, ParseIndex);
  return 0;
}
