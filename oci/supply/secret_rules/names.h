// Secret NAMES: which variable names hold credentials, and when an
// assignment to one leaks a literal value. Shared by the linter (ARG/ENV/RUN
// assignments) and the layer scanner (history commands, config Env): see
// secret_rules/README.md for why this room sits below frontend/ and oci/.
#pragma once

#include <string_view>

namespace kiln::secret_rules {

// True for names that name a credential, case-insensitive: containing
// PASSWORD, PASSWD, SECRET, TOKEN, APIKEY/API_KEY, PRIVATE_KEY, CREDENTIAL,
// AUTH_KEY, ACCESS_KEY; ending in _KEY, _PASS or _PWD; exactly PASS;
// AWS_ACCESS_KEY_ID / AWS_SECRET_* / AWS_SESSION_TOKEN. Names that point to
// where a secret is, or describe it, are not: *_FILE, *_PATH, *_URL, *_HOST,
// *_TYPE, ..., GPG_KEY(S), *PUBLIC_KEY*, *PUBKEY*, other AWS_* names, and a
// bare KEY or ACCESS (a LABEL "sort key" is no credential).
bool IsSecretName(std::string_view name);

// True when `value` is a literal that can carry a secret: non-empty and not
// only variable references (`$X`, `${X}`, `${X:-}`), not a placeholder
// ("<token>"), not a flag-like none/null/true/false/0/1/-. Surrounding
// quotes and blanks are ignored. "changeme" is still a secret.
bool IsLiteralSecretValue(std::string_view value);

// NAME=value leaks a secret: IsSecretName(name), IsLiteralSecretValue(value),
// and not a *_KEY holding a 16/40-hex-digit public key fingerprint (the
// docker-library images verify downloads with these) unless the name says
// SECRET, PRIVATE, API, ACCESS, TOKEN or LICENSE.
bool IsSecretAssignment(std::string_view name, std::string_view value);

// True for values that stand for a secret rather than being one: they
// contain "password", "changeme", "example", "secret", "your", "dummy",
// "placeholder", xxxxx, *****, a template or reference ("<", "{{", "%s",
// "$"), or are exactly "pass" or "pwd" (case-insensitive).
bool IsPlaceholderValue(std::string_view value);

}  // namespace kiln::secret_rules
