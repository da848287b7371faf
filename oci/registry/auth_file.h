// Registry credentials as podman/skopeo and docker keep them.
//
// Files, first match wins (containers-auth.json(5), docker config):
//   the explicit file (RegistryOptions::auth_file) if given, else
//   $REGISTRY_AUTH_FILE
//   ${XDG_RUNTIME_DIR}/containers/auth.json
//   ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json
//   $DOCKER_CONFIG/config.json or ~/.docker/config.json
// Format: {"auths": {"<key>": {"auth": base64("user:password"), "identitytoken": "..."}},
//          "credHelpers": {"<registry>": "<helper>"}, "credsStore": "<helper>"}
// A key is "registry", "registry/namespace[/repo]" (longest match wins) or a
// legacy URL ("https://index.docker.io/v1/"). Helpers are the
// docker-credential-<helper> programs: `get` reads the server URL on stdin and
// prints {"ServerURL","Username","Secret"}.
// Login writes 0600 files atomically, keeping every other entry.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kiln::oci {

struct Credentials {
  std::string username, password;
  std::string identity_token;  // OAuth2 refresh token (docker's "<token>" user)
};

// Files consulted for reading, in order (existing or not).
std::vector<std::filesystem::path> AuthFileSearchPath(const std::string& explicit_file);
// The file Login/Logout write.
std::filesystem::path AuthFileForWrite(const std::string& explicit_file);

// Credentials for `registry` ("docker.io", "127.0.0.1:5000") and optionally a
// repository within it ("library/busybox"). nullopt when none is configured.
std::optional<Credentials> LookupCredentials(const std::string& registry, const std::string& repository,
                                             const std::string& explicit_file);

// Reads one file (nullopt if it has no entry for registry/repository).
std::optional<Credentials> LookupCredentialsIn(const std::filesystem::path& file, const std::string& registry,
                                               const std::string& repository);

void StoreCredentials(const std::filesystem::path& file, const std::string& registry, const Credentials& creds);
// Returns false if there was no entry.
bool RemoveCredentials(const std::filesystem::path& file, const std::string& registry);

// Runs docker-credential-<helper> get; nullopt on "credentials not found".
std::optional<Credentials> RunCredentialHelper(const std::string& helper, const std::string& server_url);

}  // namespace kiln::oci
