#include "oci/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
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
  EVP_MD_CTX* ctx = nullptr;
  bool done = false;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
    throw Error("sha256: EVP_DigestInit_ex failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(const void* data, size_t size) {
  if (impl_->done) throw Error("sha256: Update after Final");
  if (size && EVP_DigestUpdate(impl_->ctx, data, size) != 1) throw Error("sha256: EVP_DigestUpdate failed");
}

Digest Sha256::Final() {
  if (impl_->done) throw Error("sha256: Final called twice");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, md, &len) != 1) throw Error("sha256: EVP_DigestFinal_ex failed");
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
