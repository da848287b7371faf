// libFuzzer target: what a registry (or anyone in the middle) sends in
// headers, and image references a Dockerfile names: WWW-Authenticate
// challenges, base64 (Basic credentials, token responses) and references.
// Input: header values separated by '\n'; the whole input is also tried as
// a reference and as base64.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "oci/error.h"
#include "oci/registry/http_client.h"
#include "oci/reference.h"
#include "oci/registry/registry_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::oci;
  if (size > 8192) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<std::string> values;
  for (size_t start = 0;;) {
    size_t nl = text.find('\n', start);
    values.emplace_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  for (const AuthChallenge& c : ParseWwwAuthenticate(values)) {
    if (c.scheme.empty()) std::abort();  // a challenge always names its scheme
  }

  try {
    Reference r = Reference::Parse(text);
    // A parsed reference prints to a form that parses to the same thing.
    Reference again = Reference::Parse(r.str());
    if (again.str() != r.str()) std::abort();
    r.familiar();
    r.api_host();
  } catch (const Error&) {
  }

  try {
    std::string decoded = Base64Decode(text);
    if (Base64Decode(Base64Encode(decoded)) != decoded) std::abort();
  } catch (const Error&) {
  }
  return 0;
}
