#include "oci/platform.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include "oci/error.h"
#include "oci/image.h"

namespace kiln::oci {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

// "v7" -> 7, "" or not a version -> -1.
int VariantNumber(const std::string& v) {
  if (v.size() < 2 || v[0] != 'v') return -1;
  int n = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return -1;
    n = n * 10 + (v[i] - '0');
  }
  return n;
}

}  // namespace

Platform Normalize(Platform p) {
  p.os = Lower(p.os);
  if (p.os == "macos") p.os = "darwin";
  std::string& a = p.architecture;
  std::string& v = p.variant;
  a = Lower(a);
  v = Lower(v);
  if (a == "i386" || a == "i686") {
    a = "386";
    v.clear();
  } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    a = "amd64";
    if (v == "v1") v.clear();
  } else if (a == "aarch64" || a == "arm64") {
    a = "arm64";
    if (v == "8" || v == "v8" || v == "v8.0") v.clear();
    else if (v == "9" || v == "9.0" || v == "v9.0") v = "v9";
  } else if (a == "armhf") {
    a = "arm";
    v = "v7";
  } else if (a == "armel") {
    a = "arm";
    v = "v6";
  } else if (a == "arm") {
    if (v.empty() || v == "7") v = "v7";
    else if (v == "5" || v == "6" || v == "8") v = "v" + v;
  }
  return p;
}

Platform Platform::Host() {
  Platform p;
  struct utsname u {};
  if (::uname(&u) != 0) return p;
  const std::string m = u.machine;
  if (m.rfind("armv7", 0) == 0) return Normalize({"linux", "arm", "v7"});
  if (m.rfind("armv6", 0) == 0) return Normalize({"linux", "arm", "v6"});
  return Normalize({"linux", m, ""});
}

Platform Platform::Parse(std::string_view spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = spec.find('/', start);
    parts.emplace_back(spec.substr(start, slash == std::string_view::npos ? spec.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  const auto bad = [&](const std::string& why) {
    return Error("platform \"" + std::string(spec) + "\": " + why +
                 "; write os/arch[/variant], for example linux/amd64, linux/arm64 or linux/arm/v7");
  };
  if (parts.size() > 3) throw bad("too many parts");
  for (const auto& s : parts) {
    if (s.empty()) throw bad("an empty part");
    for (unsigned char c : s)
      if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') throw bad("unexpected character");
  }
  Platform p;
  const auto is_os = [](const std::string& w) {
    static const char* kOs[] = {"linux", "windows", "darwin", "macos", "freebsd", "netbsd", "openbsd",
                                "solaris", "illumos", "aix", "android", "ios", "plan9", "js", "wasip1"};
    for (const char* os : kOs)
      if (Lower(w) == os) return true;
    return false;
  };
  if (parts.size() == 1 && is_os(parts[0])) {  // "linux": the host's architecture
    p = Host();
    p.os = parts[0];
  } else if (parts.size() < 3 && !is_os(parts[0])) {  // "arm64", "arm/v7": linux is implied
    p.architecture = parts[0];
    if (parts.size() == 2) p.variant = parts[1];
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return Normalize(p);
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

std::vector<Platform> ParsePlatformList(std::string_view csv) {
  std::vector<Platform> out;
  size_t start = 0;
  while (true) {
    const size_t comma = csv.find(',', start);
    std::string_view item = csv.substr(start, comma == std::string_view::npos ? csv.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty())
      throw Error("platform list \"" + std::string(csv) + "\": an empty entry; separate platforms with one comma");
    const Platform p = Platform::Parse(item);
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

int MatchRank(const Platform& want_in, const Platform& have_in) {
  const Platform want = Normalize(want_in), have = Normalize(have_in);
  if (want.os != have.os || want.architecture != have.architecture) return -1;
  if (want.variant == have.variant) return 0;
  // amd64/vN runs amd64/v(N-1)... down to v1 (""); arm/vN runs arm/v(N-1)... down to v5.
  const int w = want.architecture == "amd64" && want.variant.empty() ? 1 : VariantNumber(want.variant);
  const int h = have.architecture == "amd64" && have.variant.empty() ? 1 : VariantNumber(have.variant);
  if (want.architecture == "amd64" || want.architecture == "arm") {
    if (w > 0 && h > 0 && h < w) return w - h;
  }
  return -1;
}

const Descriptor& ChooseManifest(const Index& index, const Platform& want, const std::string& what) {
  const Descriptor* best = nullptr;
  int best_rank = -1;
  for (const auto& d : index.manifests) {
    if (!d.platform || d.platform->os == "unknown") continue;
    const int r = MatchRank(want, *d.platform);
    if (r >= 0 && (!best || r < best_rank)) {
      best = &d;
      best_rank = r;
    }
  }
  if (best) return *best;
  const std::string available = DescribePlatforms(index);
  throw Error(what + ": no manifest for platform " + want.str() + " (available: " +
              (available.empty() ? "none" : available) + ")");
}

std::string DescribePlatforms(const Index& index) {
  std::string out;
  for (const auto& d : index.manifests) {
    if (!d.platform || d.platform->os == "unknown") continue;
    out += (out.empty() ? "" : ", ") + d.platform->str();
  }
  return out;
}

std::string UnameMachine(const Platform& p_in) {
  const Platform p = Normalize(p_in);
  const std::string& a = p.architecture;
  if (a == "amd64") return "x86_64";
  if (a == "arm64") return "aarch64";
  if (a == "386") return "i686";
  if (a == "arm") return "armv" + (p.variant.size() > 1 ? p.variant.substr(1) : std::string("7")) + "l";
  if (a == "ppc64le" || a == "s390x" || a == "riscv64" || a == "mips64le") return a;
  if (a == "loong64") return "loongarch64";
  return a;
}

}  // namespace kiln::oci
