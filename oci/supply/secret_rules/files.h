// Credential FILE names: files that hold secrets by their nature (id_rsa,
// .aws/credentials, .env, ...) and credential-file kinds whose content
// decides (.npmrc with or without a token, a *.pem certificate or key).
// The linter (KL004) warns about every one sent in a build context or
// COPY'd; the layer scanner reports the first sort by name and reads the
// content of the second.
#pragma once

#include <span>
#include <string_view>

namespace kiln::secret_rules {

struct CredentialFile {
  std::string_view id;           // e.g. "ssh-private-key-file"
  std::string_view description;  // e.g. "SSH private key file"
  bool secret_by_name;           // false: a kind whose content decides
};

// Every credential file kind.
std::span<const CredentialFile> CredentialFiles();

// The credential file kind of `path` ('/'-separated, relative or absolute,
// matched case-insensitively), or nullptr. Allocates nothing.
const CredentialFile* MatchCredentialFile(std::string_view path);

}  // namespace kiln::secret_rules
