// RPM package headers as the rpm database stores them (one blob per
// installed package in rpmdb.sqlite and in ndb's Packages.db): the header
// structure of an .rpm file without its 8-byte magic, i.e.
//   int32 BE index count (il), int32 BE data size (dl),
//   il index entries of 16 bytes {int32 tag, type, offset, count},
//   dl bytes of data store the offsets point into.
// See rpm's docs/manual/format_header.md (tags in include/rpm/rpmtag.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::oci {

// The identifying tags the SBOM needs. Strings are empty when the header
// lacks the tag (e.g. VENDOR of a self-built package).
struct RpmHeaderInfo {
  std::string name, version, release;  // NAME 1000, VERSION 1001, RELEASE 1002 (required)
  std::optional<uint32_t> epoch;       // EPOCH 1003; absent is not the same as 0
  std::string arch;                    // ARCH 1022 ("x86_64", "noarch"; none for gpg-pubkey)
  std::string license;                 // LICENSE 1014
  std::string vendor;                  // VENDOR 1011
  std::string packager;                // PACKAGER 1015
  std::string source_rpm;              // SOURCERPM 1044 ("bash-5.2.15-3.fc38.src.rpm")
};

// Throws Error("<what>: rpm header: ...") on a blob whose counts, offsets
// or types do not fit (everything is bounds-checked), or that lacks NAME,
// VERSION or RELEASE.
RpmHeaderInfo ParseRpmHeader(std::string_view blob, const std::string& what);

}  // namespace kiln::oci
