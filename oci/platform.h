// Platforms as the OCI image spec names them (os/architecture/variant), in
// the normal form containerd's platforms package gives, and which manifest of
// an index a build for one platform uses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

struct Descriptor;
struct Index;

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;

  // The machine kiln runs on, normalised.
  static Platform Host();
  // "arm64", "linux/arm64", "linux/arm/v7", "linux/amd64/v2", "aarch64"...:
  // a missing os is linux; names are normalised (x86_64 = amd64, aarch64 =
  // arm64, arm64/v8 = arm64, arm = arm/v7, i386 = 386). Throws oci::Error
  // naming the spelling when it is not os[/arch[/variant]].
  static Platform Parse(std::string_view spec);
  std::string str() const;  // "linux/amd64", "linux/arm/v7"
  bool operator==(const Platform&) const = default;
};

// The same platform in containerd's normal form.
Platform Normalize(Platform p);

// "linux/amd64,linux/arm64": each parsed and normalised, duplicates dropped,
// order kept. Throws on an empty list or an empty element.
std::vector<Platform> ParsePlatformList(std::string_view csv);

// How well an image for `have` serves a build for `want`: 0 exact (after
// normalisation), 1.. an older variant of the same architecture that `want`
// runs (arm/v6 for arm/v7, amd64/v2 for amd64/v3), -1 not at all. Other
// architectures never match, even where the CPU could run them (386 on
// amd64): the image would carry the wrong platform.
int MatchRank(const Platform& want, const Platform& have);

// The manifest of `index` for `want`: the best MatchRank, first in index
// order among equals; attestation entries (os "unknown") are skipped. Throws
// oci::Error "<what>: no manifest for platform P (available: ...)".
const Descriptor& ChooseManifest(const Index& index, const Platform& want, const std::string& what);

// The platforms an index offers, in its order, as "linux/amd64, linux/arm64".
std::string DescribePlatforms(const Index& index);

// What uname(2) says on a machine of this architecture ("aarch64" for arm64,
// "armv7l" for arm/v7): the name binfmt_misc handlers and qemu use.
std::string UnameMachine(const Platform& p);

}  // namespace kiln::oci
