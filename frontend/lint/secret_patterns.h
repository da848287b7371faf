// What a secret looks like in a Dockerfile: credential-like variable names,
// literal values in well-known token formats, and credential file names.
// Hand-written matchers (no regex engine) so linting stays linear-time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::frontend::lint {

// True for ARG/ENV names that name a credential: containing PASSWORD, PASSWD,
// SECRET, TOKEN, APIKEY/API_KEY, PRIVATE_KEY, CREDENTIAL, AUTH_KEY; ending in
// _KEY or _PASS; exactly PASS/PASSWD; AWS_ACCESS_KEY_ID / AWS_SECRET_*.
// Case-insensitive. Names that are known not to hold secrets are excluded:
// *_KEY_ID other than AWS's, GPG_KEY(S), *_PUBLIC_KEY, *_KEY_URL/_FILE/_PATH/
// _SERVER, *_TOKEN_FILE, *_PASSWORD_FILE (they point to where the secret is).
bool IsSecretName(std::string_view name);

// True when `value` is a literal that can carry a secret: non-empty and not
// only variable references (`$X`, `${X}`, `${X:-}`), and not an obvious
// placeholder ("changeme" is still a secret, "<token>" or "" is not).
bool IsLiteralSecretValue(std::string_view value);

// The name of the first known secret format found in `text` ("private key
// block", "AWS access key id", "GitHub token", "GitLab token", "Slack token",
// "JSON web token", "URL with embedded password"), or nullopt.
std::optional<std::string> FindSecretFormat(std::string_view text);

// True for context paths of well-known credential files: .env(.*), id_rsa,
// id_dsa, id_ecdsa, id_ed25519 (not .pub), *.pem, *.key, *.p12, *.pfx,
// .npmrc, .pypirc, .netrc, .git-credentials, .aws/credentials,
// .docker/config.json, .htpasswd. `path` is '/'-separated, relative.
bool IsSecretFile(std::string_view path);

}  // namespace kiln::frontend::lint
