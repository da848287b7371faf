// cosign-compatible key-based image signatures.
//
// Payload: "simple signing" JSON
//   {"critical":{"identity":{"docker-reference":REPO},
//                "image":{"docker-manifest-digest":"sha256:..."},
//                "type":"cosign container image signature"},"optional":null}
// Signature: ECDSA P-256 over SHA-256 of the payload bytes, DER, base64.
// Public key: PKIX "PUBLIC KEY" PEM (what cosign writes to cosign.pub and
// reads with --key, so `cosign verify --key` accepts kiln's signatures).
// Private key: PKCS#8 PEM encrypted with AES-256-CBC under a PBKDF2-derived
// key ("ENCRYPTED PRIVATE KEY"). cosign's own "ENCRYPTED SIGSTORE PRIVATE
// KEY" is scrypt + NaCl secretbox, which OpenSSL does not provide (and
// hand-writing secretbox is not allowed here); any OpenSSL can read ours
// (`openssl pkey -in key.pem`).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "oci/digest.h"

namespace kiln::oci {

inline constexpr const char* kCosignSimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr const char* kCosignSignatureAnnotation = "dev.cosignproject.cosign/signature";

// Writes `private_key` (mode 0600, encrypted with `password`, which must not
// be empty) and `public_key`. Refuses to overwrite existing files.
void GenerateKeyPair(const std::filesystem::path& private_key, const std::filesystem::path& public_key,
                     const std::string& password);

std::string SimpleSigningPayload(const std::string& docker_reference, const Digest& manifest_digest);

// Base64 DER ECDSA signature of `payload`. Throws oci::Error on a wrong
// password or a non-P-256 key.
std::string SignPayload(std::string_view payload, const std::filesystem::path& private_key,
                        const std::string& password);
// Same, with the PEM text instead of a file.
std::string SignPayloadPem(std::string_view payload, const std::string& private_key_pem, const std::string& password);

// Throws oci::Error saying why when the signature does not verify with the
// public key (PEM file or PEM text).
void VerifyPayloadSignature(std::string_view payload, const std::string& signature_b64,
                            const std::filesystem::path& public_key);
void VerifyPayloadSignaturePem(std::string_view payload, const std::string& signature_b64,
                               const std::string& public_key_pem);

// Checks the payload names `manifest_digest` (and `docker_reference` unless
// empty) and is a cosign signature payload; throws oci::Error otherwise.
void CheckSimpleSigningPayload(std::string_view payload, const Digest& manifest_digest,
                               const std::string& docker_reference);

// Base64 helpers: Base64Encode/Base64Decode from oci/http_client.h.

}  // namespace kiln::oci
