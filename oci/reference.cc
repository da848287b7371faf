// Reference grammar after distribution/reference (normalize.go): the first
// path component is a registry only if it looks like a host (has '.' or ':',
// or is "localhost"); otherwise the image lives on docker.io, where one-part
// names gain "library/".
#include "oci/reference.h"
#include "oci/text_util.h"


#include "oci/error.h"

namespace kiln::oci {
namespace {

constexpr std::string_view kDockerHub = "docker.io";

bool LooksLikeHost(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost" ||
         (!component.empty() && component.front() == '[');
}

// Hand-written matchers for the distribution/reference grammar (std::regex
// trips GCC 12's -Wmaybe-uninitialized under the sanitizers, and is slow).
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool IsPathComponent(std::string_view s) {
  size_t i = 0, n = s.size();
  auto alnum_run = [&] {
    size_t start = i;
    while (i < n && IsLowerAlnum(s[i])) i++;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < n) {
    if (s[i] == '.') {
      i++;
    } else if (s[i] == '_') {
      i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') i++;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !(IsAsciiAlnum(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(IsAsciiAlnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

// algorithm ":" encoded, with sha256 held to 64 lower-case hex digits.
bool IsDigest(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  std::string_view alg = s.substr(0, colon), enc = s.substr(colon + 1);
  if (!IsLowerAlnum(alg.front()) || !IsLowerAlnum(alg.back())) return false;
  for (size_t i = 0; i < alg.size(); ++i) {
    char c = alg[i];
    bool sep = c == '.' || c == '+' || c == '_' || c == '-';
    if (!(IsLowerAlnum(c) || (sep && !(i > 0 && (alg[i - 1] == '.' || alg[i - 1] == '+' || alg[i - 1] == '_' ||
                                                   alg[i - 1] == '-'))))) {
      return false;
    }
  }
  for (char c : enc) {
    if (!(IsAsciiAlnum(c) || c == '=' || c == '_' || c == '-')) return false;
  }
  if (alg == "sha256") {
    if (enc.size() != 64) return false;
    for (char c : enc) {
      if (!IsHex(c)) return false;
    }
  }
  return true;
}

// host[:port]: DNS labels or IPv4, or a bracketed IPv6 address.
bool IsRegistryHost(std::string_view s) {
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!(IsHex(c) || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) return false;
    }
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    host = {};
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return false;
  }
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  if (port.size() > 5) return false;
  if (host.empty()) return s.front() == '[';
  size_t start = 0;
  while (true) {
    auto dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !IsAsciiAlnum(label.front()) || !IsAsciiAlnum(label.back())) return false;
    for (char c : label) {
      if (!(IsAsciiAlnum(c) || c == '-')) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

[[noreturn]] void Invalid(std::string_view text, const std::string& why) {
  throw Error("invalid image reference \"" + std::string(text) + "\": " + why);
}

// Host part without the port, brackets removed for IPv6.
std::string HostOnly(const std::string& registry) {
  if (!registry.empty() && registry.front() == '[') {
    auto end = registry.find(']');
    return registry.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  }
  return registry.substr(0, registry.find(':'));
}

}  // namespace

Reference Reference::Parse(std::string_view text) {
  if (text.empty()) Invalid(text, "empty");
  if (text.size() > 4096) Invalid(text, "too long");
  Reference ref;
  std::string rest(text);

  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!IsDigest(ref.digest)) {
      Invalid(text, "malformed digest \"" + ref.digest + "\" (sha256 needs 64 lower-case hex digits)");
    }
  }
  // A ':' after the last '/' separates the tag (an earlier one is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!IsTag(ref.tag)) Invalid(text, "malformed tag \"" + ref.tag + "\"");
  }
  if (rest.empty()) Invalid(text, "missing repository name");

  auto first_slash = rest.find('/');
  std::string repo;
  if (first_slash != std::string::npos && LooksLikeHost(rest.substr(0, first_slash))) {
    ref.registry = rest.substr(0, first_slash);
    repo = rest.substr(first_slash + 1);
    if (!IsRegistryHost(ref.registry)) Invalid(text, "malformed registry \"" + ref.registry + "\"");
  } else {
    ref.registry = kDockerHub;
    repo = rest;
  }
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io") ref.registry = kDockerHub;
  if (ref.registry == kDockerHub && repo.find('/') == std::string::npos) repo = "library/" + repo;

  size_t start = 0;
  while (true) {
    auto end = repo.find('/', start);
    std::string component = repo.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!IsPathComponent(component)) {
      Invalid(text, "repository name component \"" + component +
                        "\" must be lower-case letters, digits and separators (._-)");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (ref.registry.size() + 1 + repo.size() > 255) Invalid(text, "repository name longer than 255 characters");
  ref.repository = repo;
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string Reference::str() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::familiar() const {
  std::string s;
  if (registry == kDockerHub) {
    s = repository.starts_with("library/") ? repository.substr(8) : repository;
  } else {
    s = registry + "/" + repository;
  }
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::api_host() const {
  return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

bool Reference::is_localhost() const {
  std::string host = HostOnly(registry);
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace kiln::oci
