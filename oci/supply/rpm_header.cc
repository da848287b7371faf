#include "oci/supply/rpm_header.h"

#include <vector>

#include "oci/error.h"

namespace kiln::oci {

namespace {

// rpm's own sanity limits on an imported header (hdrblobInit).
constexpr uint32_t kRpmMaxTags = 0xffff;
constexpr uint32_t kRpmMaxData = 0x0fffffff;

enum RpmType : uint32_t { kRpmInt32 = 4, kRpmString = 6, kRpmStringArray = 8, kRpmI18nString = 9, kRpmMaxType = 9 };

enum RpmTag : uint32_t {
  kTagName = 1000, kTagVersion = 1001, kTagRelease = 1002, kTagEpoch = 1003, kTagVendor = 1011,
  kTagLicense = 1014, kTagPackager = 1015, kTagArch = 1022, kTagSourceRpm = 1044,
};

uint32_t RpmBe32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

struct RpmIndexEntry {
  uint32_t tag, type, offset, count;
};

}  // namespace

RpmHeaderInfo ParseRpmHeader(std::string_view blob, const std::string& what) {
  auto fail = [&](const std::string& msg) -> void { throw Error(what + ": rpm header: " + msg); };
  if (blob.size() < 8) fail("blob of " + std::to_string(blob.size()) + " bytes is shorter than its 8-byte intro");
  const uint32_t il = RpmBe32(blob, 0), dl = RpmBe32(blob, 4);
  if (il == 0 || il > kRpmMaxTags) fail("index count " + std::to_string(il) + " is out of range");
  if (dl > kRpmMaxData) fail("data size " + std::to_string(dl) + " is out of range");
  const uint64_t want = 8 + 16 * uint64_t{il} + dl;
  if (want != blob.size())
    fail("size " + std::to_string(blob.size()) + " does not match 8 + 16 * " + std::to_string(il) + " entries + " +
         std::to_string(dl) + " bytes of data");
  const std::string_view data = blob.substr(8 + 16 * size_t{il});

  // Entries added after installation ("dribbles", e.g. INSTALLTIME) follow
  // the immutable region and may repeat a tag from it: the later one wins.
  std::vector<RpmIndexEntry> entries;
  entries.reserve(il);
  for (uint32_t i = 0; i < il; ++i) {
    size_t at = 8 + 16 * size_t{i};
    RpmIndexEntry e{RpmBe32(blob, at), RpmBe32(blob, at + 4), RpmBe32(blob, at + 8), RpmBe32(blob, at + 12)};
    if (e.type > kRpmMaxType) fail("tag " + std::to_string(e.tag) + " has unknown type " + std::to_string(e.type));
    if (e.offset >= dl && !(e.offset == dl && e.count == 0))
      fail("tag " + std::to_string(e.tag) + " offset " + std::to_string(e.offset) + " is past the data (" +
           std::to_string(dl) + " bytes)");
    entries.push_back(e);
  }
  auto find = [&](uint32_t tag) -> const RpmIndexEntry* {
    for (size_t i = entries.size(); i-- > 0;)
      if (entries[i].tag == tag) return &entries[i];
    return nullptr;
  };
  // First string of a STRING, STRING_ARRAY or I18NSTRING (the "C" locale).
  auto str = [&](uint32_t tag) -> std::string {
    const RpmIndexEntry* e = find(tag);
    if (!e) return {};
    if (e->type != kRpmString && e->type != kRpmStringArray && e->type != kRpmI18nString)
      fail("tag " + std::to_string(tag) + " has type " + std::to_string(e->type) + ", not a string");
    if (e->count == 0) fail("tag " + std::to_string(tag) + " has no values");
    size_t nul = data.find('\0', e->offset);
    if (nul == std::string_view::npos) fail("string of tag " + std::to_string(tag) + " runs past the data");
    return std::string(data.substr(e->offset, nul - e->offset));
  };

  RpmHeaderInfo info;
  info.name = str(kTagName);
  info.version = str(kTagVersion);
  info.release = str(kTagRelease);
  if (info.name.empty() || info.version.empty() || info.release.empty())
    fail("NAME, VERSION or RELEASE is missing or empty");
  if (const RpmIndexEntry* e = find(kTagEpoch)) {
    if (e->type != kRpmInt32 || e->count != 1)
      fail("EPOCH has type " + std::to_string(e->type) + " and count " + std::to_string(e->count) + ", not one INT32");
    if (uint64_t{e->offset} + 4 > dl) fail("EPOCH runs past the data");
    info.epoch = RpmBe32(data, e->offset);
  }
  info.arch = str(kTagArch);
  info.license = str(kTagLicense);
  info.vendor = str(kTagVendor);
  info.packager = str(kTagPackager);
  info.source_rpm = str(kTagSourceRpm);
  return info;
}

}  // namespace kiln::oci
