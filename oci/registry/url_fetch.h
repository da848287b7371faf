// ADD <url>: one HTTP(S) download into the store's temp space, with the
// optional --checksum verified before anything reaches an image.
#pragma once

#include <filesystem>
#include <string>

#include "oci/digest.h"

namespace kiln::oci {

struct FetchedUrl {
  std::filesystem::path file;  // the downloaded bytes (caller removes)
  Digest digest;               // sha256 of the content
  std::string filename;        // last path segment of the URL ("index.html" when none)
};

// Downloads `url` to `dest_file`. `checksum` ("sha256:<hex>", may be empty)
// must match or oci::Error is thrown ("https://...: checksum mismatch:
// expected sha256:..., got sha256:...", the caller adds the instruction).
// Non-2xx statuses are errors naming the status.
FetchedUrl FetchUrl(const std::string& url, const std::filesystem::path& dest_file,
                    const std::string& checksum);

}  // namespace kiln::oci
