#include "oci/supply/secret_rules/files.h"

#include "oci/supply/secret_rules/ascii.h"

namespace kiln::secret_rules {
namespace {

bool EqFolded(std::string_view a, std::string_view lower) { return a.size() == lower.size() && StartsFoldedAt(a, 0, lower); }
bool EndsFolded(std::string_view a, std::string_view lower) {
  return a.size() >= lower.size() && EqFolded(a.substr(a.size() - lower.size()), lower);
}
bool StartsFolded(std::string_view a, std::string_view lower) {
  return a.size() >= lower.size() && EqFolded(a.substr(0, lower.size()), lower);
}

enum FileKind { kSsh, kGitCredentials, kNetrc, kAws, kDotenv, kNpmrc, kPypirc, kDockerConfig, kHtpasswd, kKeyFile,
            kCloudCredentials, kFileKinds };
constexpr CredentialFile kFiles[kFileKinds] = {
    {"ssh-private-key-file", "SSH private key file", true},
    {"git-credentials-file", "git credential store", true},
    {"netrc-file", ".netrc with machine credentials", true},
    {"aws-credentials-file", "AWS credentials file", true},
    {"dotenv-file", ".env file with environment secrets", true},
    {"npmrc-file", ".npmrc (may hold registry auth tokens)", false},
    {"pypirc-file", ".pypirc (may hold index passwords)", false},
    {"docker-config-file", "docker config.json (may hold registry credentials)", false},
    {"htpasswd-file", ".htpasswd password hashes", false},
    {"key-file", "key or certificate file (*.pem, *.key, *.p12, *.pfx, *.jks, *.keystore)", false},
    {"cloud-credentials-file", "credentials.json (cloud service account)", false},
};

}  // namespace

std::span<const CredentialFile> CredentialFiles() { return kFiles; }

const CredentialFile* MatchCredentialFile(std::string_view path) {
  while (path.ends_with('/')) path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::string_view k : {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"})
    if (EqFolded(base, k)) return &kFiles[kSsh];
  if (EqFolded(base, ".git-credentials")) return &kFiles[kGitCredentials];
  if (EqFolded(base, ".netrc")) return &kFiles[kNetrc];
  if (EndsFolded(path, ".aws/credentials") || EqFolded(path, "aws/credentials")) return &kFiles[kAws];
  // Committed templates (.env.example) document the variables, not their values.
  if (EqFolded(base, ".env") ||
      (StartsFolded(base, ".env.") && !EndsFolded(base, ".example") && !EndsFolded(base, ".sample") &&
       !EndsFolded(base, ".template") && !EndsFolded(base, ".dist")))
    return &kFiles[kDotenv];
  if (EqFolded(base, ".npmrc")) return &kFiles[kNpmrc];
  if (EqFolded(base, ".pypirc")) return &kFiles[kPypirc];
  if (EndsFolded(path, ".docker/config.json")) return &kFiles[kDockerConfig];
  if (EqFolded(base, ".htpasswd")) return &kFiles[kHtpasswd];
  if (EqFolded(base, "credentials.json")) return &kFiles[kCloudCredentials];
  for (std::string_view ext : {".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"})
    if (base.size() > ext.size() && EndsFolded(base, ext)) return &kFiles[kKeyFile];
  return nullptr;
}

}  // namespace kiln::secret_rules
