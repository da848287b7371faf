#include "oci/digest.h"

#include <fcntl.h>
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 but kept (they are in
// 3.0 to 3.5): they run the same assembly as EVP without loading a provider,
// and the provider and its config were 1.8 MB of the RSS of commands that
// only hash (a no-op rebuild peaks at 15 MB). Commands that sign or speak
// TLS still load it, through EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>

#include "oci/error.h"

namespace kiln::oci {

Digest Digest::Parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) throw Error("malformed digest \"" + std::string(text) + "\": no algorithm");
  Digest d;
  d.algorithm = std::string(text.substr(0, colon));
  d.hex = std::string(text.substr(colon + 1));
  size_t want = 0;
  if (d.algorithm == "sha256") want = 64;
  else if (d.algorithm == "sha512") want = 128;
  else throw Error("malformed digest \"" + std::string(text) + "\": unsupported algorithm");
  if (d.hex.size() != want) throw Error("malformed digest \"" + std::string(text) + "\": wrong length");
  for (char c : d.hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      throw Error("malformed digest \"" + std::string(text) + "\": not lower-case hex");
  }
  return d;
}

struct Sha256::Impl {
  SHA256_CTX ctx;
  bool done = false;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (SHA256_Init(&impl_->ctx) != 1) throw Error("sha256: SHA256_Init failed");
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t size) {
  if (impl_->done) throw Error("sha256: Update after Final");
  if (size && SHA256_Update(&impl_->ctx, data, size) != 1) throw Error("sha256: SHA256_Update failed");
}

Digest Sha256::Final() {
  if (impl_->done) throw Error("sha256: Final called twice");
  unsigned char md[SHA256_DIGEST_LENGTH];
  const unsigned len = SHA256_DIGEST_LENGTH;
  if (SHA256_Final(md, &impl_->ctx) != 1) throw Error("sha256: SHA256_Final failed");
  impl_->done = true;
  static const char kHex[] = "0123456789abcdef";
  Digest d;
  d.hex.resize(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    d.hex[2 * i] = kHex[md[i] >> 4];
    d.hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return d;
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Final();
}

Digest Sha256OfFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno("sha256 of " + path.string() + ": open");
  Sha256 h;
  std::unique_ptr<char[]> buf(new char[1 << 17]);
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), 1 << 17);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      ThrowErrno("sha256 of " + path.string() + ": read");
    }
    if (n == 0) break;
    h.Update(buf.get(), static_cast<size_t>(n));
  }
  ::close(fd);
  return h.Final();
}

}  // namespace kiln::oci
