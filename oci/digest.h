// Content digests ("sha256:<64 hex>") computed with OpenSSL, streamed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace kiln::oci {

struct Digest {
  std::string algorithm = "sha256";
  std::string hex;  // lower-case

  static Digest Parse(std::string_view text);  // throws oci::Error if malformed
  std::string str() const { return algorithm + ":" + hex; }
  bool empty() const { return hex.empty(); }
  auto operator<=>(const Digest&) const = default;
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest Final();  // once

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest Sha256Of(std::string_view data);
Digest Sha256OfFile(const std::filesystem::path& path);  // streamed

}  // namespace kiln::oci
