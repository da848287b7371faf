#include "oci/supply/signature.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/error.h"
#include "oci/registry/http_client.h"

namespace kiln::oci {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string ReadTextFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) ThrowErrno("open " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Passes the password explicitly so OpenSSL never prompts on a terminal.
int PasswordCb(char* buf, int size, int /*rwflag*/, void* u) {
  const auto* pw = static_cast<const std::string*>(u);
  if (pw->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, pw->data(), pw->size());
  return static_cast<int>(pw->size());
}

void CheckP256(EVP_PKEY* key, const std::string& what) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) != 1 ||
      std::string(group) != "prime256v1")
    throw Error(what + ": not an ECDSA P-256 key");
}

PkeyPtr LoadPrivate(const std::string& pem, const std::string& password) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::string pw = password;
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, PasswordCb, &pw));
  if (!key) throw Error("private key: cannot decrypt or parse (wrong password?): " + OpenSslError());
  CheckP256(key.get(), "private key");
  return key;
}

PkeyPtr LoadPublic(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw Error("public key: not a PEM PUBLIC KEY: " + OpenSslError());
  CheckP256(key.get(), "public key");
  return key;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

void WriteNewFile(const std::filesystem::path& p, const std::string& data, mode_t mode) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) ThrowErrno("create " + p.string());
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      ThrowErrno("write " + p.string());
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) ThrowErrno("close " + p.string());
}

}  // namespace

void GenerateKeyPair(const std::filesystem::path& private_key, const std::filesystem::path& public_key,
                     const std::string& password) {
  if (password.empty()) throw Error("keygen: a non-empty password is required to encrypt " + private_key.string());
  for (const auto& p : {private_key, public_key})
    if (std::filesystem::exists(p)) throw Error("keygen: " + p.string() + " already exists; refusing to overwrite");
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throw Error("keygen: EC P-256 key generation failed: " + OpenSslError());
  BioPtr priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  std::string pw = password;
  if (PEM_write_bio_PKCS8PrivateKey(priv.get(), key.get(), EVP_aes_256_cbc(), nullptr, 0, PasswordCb, &pw) != 1)
    throw Error("keygen: encrypting the private key failed: " + OpenSslError());
  if (PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) throw Error("keygen: writing the public key failed: " + OpenSslError());
  WriteNewFile(private_key, BioString(priv.get()), 0600);
  WriteNewFile(public_key, BioString(pub.get()), 0644);
}

std::string SimpleSigningPayload(const std::string& docker_reference, const Digest& manifest_digest) {
  // Key order as cosign emits it (encoding/json of its structs).
  nlohmann::ordered_json j;
  j["critical"]["identity"]["docker-reference"] = docker_reference;
  j["critical"]["image"]["docker-manifest-digest"] = manifest_digest.str();
  j["critical"]["type"] = "cosign container image signature";
  j["optional"] = nullptr;
  return j.dump();
}

std::string SignPayloadPem(std::string_view payload, const std::string& private_key_pem, const std::string& password) {
  PkeyPtr key = LoadPrivate(private_key_pem, password);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) != 1)
    throw Error("sign: " + OpenSslError());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) != 1)
    throw Error("sign: " + OpenSslError());
  sig.resize(len);
  return Base64Encode(sig);
}

std::string SignPayload(std::string_view payload, const std::filesystem::path& private_key, const std::string& password) {
  try {
    return SignPayloadPem(payload, ReadTextFile(private_key), password);
  } catch (const Error& e) {
    throw Error(private_key.string() + ": " + e.what());
  }
}

void VerifyPayloadSignaturePem(std::string_view payload, const std::string& signature_b64, const std::string& public_key_pem) {
  PkeyPtr key = LoadPublic(public_key_pem);
  std::string sig = Base64Decode(signature_b64);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1)
    throw Error("verify: " + OpenSslError());
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  ERR_clear_error();
  if (rc != 1) throw Error("verify: signature does not match the payload for this public key");
}

void VerifyPayloadSignature(std::string_view payload, const std::string& signature_b64,
                            const std::filesystem::path& public_key) {
  try {
    VerifyPayloadSignaturePem(payload, signature_b64, ReadTextFile(public_key));
  } catch (const Error& e) {
    throw Error(public_key.string() + ": " + e.what());
  }
}

void CheckSimpleSigningPayload(std::string_view payload, const Digest& manifest_digest,
                               const std::string& docker_reference) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("signature payload: not JSON");
  try {
    const auto& c = j.at("critical");
    if (c.at("type").get<std::string>() != "cosign container image signature")
      throw Error("signature payload: type is \"" + c.at("type").get<std::string>() + "\"");
    std::string got = c.at("image").at("docker-manifest-digest").get<std::string>();
    if (got != manifest_digest.str())
      throw Error("signature payload: signs manifest " + got + ", not " + manifest_digest.str());
    std::string ref = c.at("identity").at("docker-reference").get<std::string>();
    if (!docker_reference.empty() && ref != docker_reference)
      throw Error("signature payload: identity is \"" + ref + "\", not \"" + docker_reference + "\"");
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("signature payload: missing field: ") + e.what());
  }
}

}  // namespace kiln::oci
