#include "oci/supply/rpm_ndb.h"

#include <algorithm>

#include "oci/error.h"

namespace kiln::oci {

namespace {

constexpr size_t kNdbHeaderSize = 32, kNdbSlotSize = 16, kNdbBlockSize = 16, kNdbSlotPage = 4096;
constexpr size_t kNdbBlobHead = 16, kNdbBlobTail = 12;

uint32_t NdbLe32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24;
}

// Adler-32 (RFC 1950), rpm's blob checksum.
uint32_t NdbAdler32(std::string_view s) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = std::min<size_t>(s.size() - i, 5552);  // largest run before the sums can overflow
    for (size_t end = i + n; i < end; ++i) {
      a += static_cast<unsigned char>(s[i]);
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return b << 16 | a;
}

}  // namespace

std::vector<RpmNdbBlob> ReadRpmNdbPackages(std::string_view f, const std::string& what) {
  auto fail = [&](const std::string& msg) -> void { throw Error(what + ": ndb: " + msg); };
  if (f.size() < kNdbHeaderSize || f.substr(0, 4) != "RpmP") fail("not an rpm ndb package file (no \"RpmP\" magic)");
  if (uint32_t v = NdbLe32(f, 4); v != 0) fail("unsupported version " + std::to_string(v));
  if (f.size() % kNdbBlockSize) fail("size " + std::to_string(f.size()) + " is not a multiple of 16 (truncated)");
  const uint64_t slot_pages = NdbLe32(f, 12);
  if (slot_pages == 0 || slot_pages * kNdbSlotPage > f.size())
    fail(std::to_string(slot_pages) + " slot pages do not fit in " + std::to_string(f.size()) + " bytes");
  const uint64_t first_blob_block = slot_pages * kNdbSlotPage / kNdbBlockSize, file_blocks = f.size() / kNdbBlockSize;

  std::vector<RpmNdbBlob> out;
  for (size_t at = kNdbHeaderSize; at < slot_pages * kNdbSlotPage; at += kNdbSlotSize) {
    std::string where = "slot at offset " + std::to_string(at);
    if (f.substr(at, 4) != "Slot") fail(where + " has no \"Slot\" magic");
    const uint32_t pkgidx = NdbLe32(f, at + 4), blkoff = NdbLe32(f, at + 8), blkcnt = NdbLe32(f, at + 12);
    if (blkoff == 0) continue;  // free
    if (pkgidx == 0 || blkcnt == 0 || blkoff < first_blob_block || uint64_t{blkoff} + blkcnt > file_blocks)
      fail(where + " (package " + std::to_string(pkgidx) + ", blocks " + std::to_string(blkoff) + "+" +
           std::to_string(blkcnt) + ") points outside the blob area");
    const std::string_view rec = f.substr(size_t{blkoff} * kNdbBlockSize, size_t{blkcnt} * kNdbBlockSize);
    where = "blob of package " + std::to_string(pkgidx) + " at offset " + std::to_string(size_t{blkoff} * kNdbBlockSize);
    if (rec.size() < kNdbBlobHead + kNdbBlobTail) fail(where + " is shorter than its head and tail");
    if (rec.substr(0, 4) != "BlbS") fail(where + " has no \"BlbS\" magic");
    if (NdbLe32(rec, 4) != pkgidx) fail(where + " belongs to package " + std::to_string(NdbLe32(rec, 4)));
    const uint64_t len = NdbLe32(rec, 12);
    if ((kNdbBlobHead + len + kNdbBlobTail + kNdbBlockSize - 1) / kNdbBlockSize != blkcnt)
      fail(where + ": length " + std::to_string(len) + " does not match " + std::to_string(blkcnt) + " blocks");
    const std::string_view tail = rec.substr(rec.size() - kNdbBlobTail);
    if (tail.substr(8, 4) != "BlbE" || NdbLe32(tail, 4) != len) fail(where + " has a bad tail (magic or length)");
    if (NdbAdler32(rec.substr(0, rec.size() - kNdbBlobTail)) != NdbLe32(tail, 0)) fail(where + ": checksum mismatch");
    out.push_back({pkgidx, rec.substr(kNdbBlobHead, len)});
  }
  std::sort(out.begin(), out.end(), [](const RpmNdbBlob& a, const RpmNdbBlob& b) { return a.pkgidx < b.pkgidx; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].pkgidx == out[i - 1].pkgidx) fail("package " + std::to_string(out[i].pkgidx) + " has two slots");
  return out;
}

}  // namespace kiln::oci
