#include "oci/registry/auth_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/error.h"
#include "oci/registry/http_client.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/subprocess.h"

namespace kiln::oci {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Home() {
  std::string h = Env("HOME");
  if (h.empty()) throw Error("credentials: $HOME is not set");
  return h;
}

std::string NormalizeHost(std::string host) {
  if (host == "index.docker.io" || host == "registry-1.docker.io") return "docker.io";
  return host;
}

// "https://index.docker.io/v1/" -> "docker.io"; "quay.io/ns" stays.
std::string NormalizeKey(std::string key) {
  bool had_scheme = false;
  for (const char* scheme : {"https://", "http://"}) {
    if (key.starts_with(scheme)) {
      key = key.substr(std::string_view(scheme).size());
      had_scheme = true;
    }
  }
  // A URL's path ("/v1/") is not a namespace; a bare key's path is.
  if (had_scheme) key = key.substr(0, key.find('/'));
  while (!key.empty() && key.back() == '/') key.pop_back();
  auto slash = key.find('/');
  std::string host = NormalizeHost(key.substr(0, slash));
  return slash == std::string::npos ? host : host + key.substr(slash);
}

json ReadJsonFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return nullptr;  // absent: nothing configured there
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  try {
    json j = json::parse(ss.str());
    if (!j.is_object()) throw Error("credentials " + file.string() + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw Error("credentials " + file.string() + ": " + e.what());
  }
}

Credentials DecodeEntry(const fs::path& file, const std::string& key, const json& entry) {
  Credentials c;
  if (entry.contains("auth") && entry["auth"].is_string() && !entry["auth"].get<std::string>().empty()) {
    std::string decoded = Base64Decode(entry["auth"].get<std::string>());
    auto colon = decoded.find(':');
    if (colon == std::string::npos) {
      throw Error("credentials " + file.string() + ": auths[\"" + key + "\"].auth is not base64(user:password)");
    }
    c.username = decoded.substr(0, colon);
    c.password = decoded.substr(colon + 1);
  }
  if (entry.contains("identitytoken") && entry["identitytoken"].is_string()) {
    c.identity_token = entry["identitytoken"].get<std::string>();
  }
  return c;
}

bool HasSecret(const Credentials& c) { return !c.username.empty() || !c.identity_token.empty(); }

// The URL docker records Docker Hub under; helpers are keyed by it.
std::string HelperServerUrl(const std::string& registry) {
  return registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
}

// 0600 temp file + fsync + rename: readers never see a torn file.
void WriteJsonAtomic(const fs::path& file, const json& j) {
  std::error_code ec;
  if (file.has_parent_path()) {
    fs::create_directories(file.parent_path(), ec);
    if (ec) throw Error("credentials: mkdir " + file.parent_path().string() + ": " + ec.message());
  }
  std::string tmp = file.string() + ".tmp." + std::to_string(::getpid());
  sandbox::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) ThrowErrno("credentials: open " + tmp);
  try {
    sandbox::WriteAll(fd.get(), j.dump(2) + "\n", "credentials: write " + tmp);
    if (::fsync(fd.get()) != 0) ThrowErrno("credentials: fsync " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fd.Reset();
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    ThrowErrno("credentials: rename " + tmp + " to " + file.string());
  }
}

}  // namespace

std::vector<fs::path> AuthFileSearchPath(const std::string& explicit_file) {
  if (!explicit_file.empty()) return {explicit_file};
  std::vector<fs::path> out;
  if (auto f = Env("REGISTRY_AUTH_FILE"); !f.empty()) out.push_back(f);
  if (auto r = Env("XDG_RUNTIME_DIR"); !r.empty()) out.push_back(fs::path(r) / "containers/auth.json");
  std::string config = Env("XDG_CONFIG_HOME");
  if (config.empty() && !Env("HOME").empty()) config = Home() + "/.config";
  if (!config.empty()) out.push_back(fs::path(config) / "containers/auth.json");
  if (auto d = Env("DOCKER_CONFIG"); !d.empty()) {
    out.push_back(fs::path(d) / "config.json");
  } else if (!Env("HOME").empty()) {
    out.push_back(fs::path(Home()) / ".docker/config.json");
  }
  return out;
}

fs::path AuthFileForWrite(const std::string& explicit_file) {
  if (!explicit_file.empty()) return explicit_file;
  if (auto f = Env("REGISTRY_AUTH_FILE"); !f.empty()) return f;
  if (auto r = Env("XDG_RUNTIME_DIR"); !r.empty()) return fs::path(r) / "containers/auth.json";
  std::string config = Env("XDG_CONFIG_HOME");
  if (config.empty()) config = Home() + "/.config";
  return fs::path(config) / "containers/auth.json";
}

std::optional<Credentials> LookupCredentialsIn(const fs::path& file, const std::string& registry,
                                               const std::string& repository) {
  json j = ReadJsonFile(file);
  if (j.is_null()) return std::nullopt;
  const std::string reg = NormalizeHost(registry);

  if (j.contains("credHelpers") && j["credHelpers"].is_object()) {
    for (const auto& [key, helper] : j["credHelpers"].items()) {
      if (NormalizeKey(key) == reg && helper.is_string()) return RunCredentialHelper(helper, HelperServerUrl(reg));
    }
  }
  // Longest key that is the registry or a path prefix of registry/repository.
  const std::string full = repository.empty() ? reg : reg + "/" + repository;
  std::optional<Credentials> best;
  size_t best_len = 0;
  if (j.contains("auths") && j["auths"].is_object()) {
    for (const auto& [key, entry] : j["auths"].items()) {
      std::string k = NormalizeKey(key);
      bool match = k == full || (full.starts_with(k) && full[k.size()] == '/');
      if (!match || k.size() < best_len || !entry.is_object()) continue;
      Credentials c = DecodeEntry(file, key, entry);
      if (!HasSecret(c)) continue;  // an empty entry only lists a registry using credsStore
      best = c;
      best_len = k.size();
    }
  }
  if (best) return best;
  if (j.contains("credsStore") && j["credsStore"].is_string()) {
    return RunCredentialHelper(j["credsStore"], HelperServerUrl(reg));
  }
  return std::nullopt;
}

std::optional<Credentials> LookupCredentials(const std::string& registry, const std::string& repository,
                                             const std::string& explicit_file) {
  for (const auto& file : AuthFileSearchPath(explicit_file)) {
    if (auto c = LookupCredentialsIn(file, registry, repository)) return c;
  }
  return std::nullopt;
}

void StoreCredentials(const fs::path& file, const std::string& registry, const Credentials& creds) {
  json j = ReadJsonFile(file);
  if (j.is_null()) j = json::object();
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  std::string key = NormalizeKey(registry);
  // Drop other spellings of the same registry so the new entry is the one found.
  for (auto it = j["auths"].begin(); it != j["auths"].end();) {
    if (NormalizeKey(it.key()) == key) {
      it = j["auths"].erase(it);
    } else {
      ++it;
    }
  }
  json entry = json::object();
  if (!creds.username.empty()) entry["auth"] = Base64Encode(creds.username + ":" + creds.password);
  if (!creds.identity_token.empty()) entry["identitytoken"] = creds.identity_token;
  j["auths"][key] = entry;

  WriteJsonAtomic(file, j);
}

bool RemoveCredentials(const fs::path& file, const std::string& registry) {
  json j = ReadJsonFile(file);
  if (j.is_null() || !j.contains("auths") || !j["auths"].is_object()) return false;
  std::string key = NormalizeKey(registry);
  bool removed = false;
  for (auto it = j["auths"].begin(); it != j["auths"].end();) {
    if (NormalizeKey(it.key()) == key) {
      it = j["auths"].erase(it);
      removed = true;
    } else {
      ++it;
    }
  }
  if (!removed) return false;
  WriteJsonAtomic(file, j);
  return true;
}

std::optional<Credentials> RunCredentialHelper(const std::string& helper, const std::string& server_url) {
  const std::string prog = "docker-credential-" + helper;
  if (!sandbox::FindInPath(prog)) {
    throw Error("credential helper " + prog + " (credHelpers/credsStore in the auth file) is not in PATH: "
                "install it or remove the entry");
  }
  sandbox::CaptureOptions options;
  options.input = server_url;
  const auto [status, captured] = sandbox::RunCaptured({prog, "get"}, options);
  std::string out = captured;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (out.find("credentials not found") != std::string::npos) return std::nullopt;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    throw Error("credential helper " + prog + " get " + server_url + ": " + sandbox::DescribeWaitStatus(status) +
                (out.empty() ? "" : ": " + out));
  }
  try {
    json j = json::parse(out);
    Credentials c;
    std::string user = j.value("Username", "");
    std::string secret = j.value("Secret", "");
    if (user == "<token>") {
      c.identity_token = secret;
    } else {
      c.username = user;
      c.password = secret;
    }
    return c;
  } catch (const json::exception& e) {
    throw Error("credential helper " + prog + " get " + server_url + ": bad output: " + e.what());
  }
}

}  // namespace kiln::oci
