#include "builder/cmd/build_flags_compat.h"

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "builder/output_spec.h"
#include "builder/read_input.h"
#include "builder/ssh_mount.h"

namespace kiln::builder {

namespace {

// "K=V" with a non-empty K; `what` names the flag in the error.
std::pair<std::string, std::string> KeyValue(const std::string& text, const std::string& flag) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw CLI::ValidationError(flag, "expected KEY=VALUE, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// "true"/"false" and the buildx forms that mean "on" ("mode=max", "generator=...").
bool Enabled(const std::string& value, const std::string& flag) {
  if (value.empty() || value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  std::map<std::string, std::string> kv;
  try {
    kv = ParseCsvKv(value, flag);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(flag, e.what());
  }
  if (kv.count("disabled")) return kv["disabled"] != "true";
  return true;
}

}  // namespace

uint64_t ParseByteSize(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw std::invalid_argument("'" + text + "' is not a size (e.g. 64m, 1g, 1048576)");
  const double n = std::stod(text.substr(0, i));
  std::string unit;
  for (char c : text.substr(i)) unit += char(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> kUnits = {
      {"", 1},          {"b", 1},          {"k", 1024.0},     {"kb", 1024.0},  {"kib", 1024.0},
      {"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0},
      {"gb", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0}, {"tb", 1099511627776.0},
      {"tib", 1099511627776.0}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) throw std::invalid_argument("'" + text + "': unknown unit '" + unit + "' (b, k, m, g, t)");
  return uint64_t(n * it->second);
}

UlimitSpec ParseUlimit(const std::string& text) {
  static const std::map<std::string, int> kResources = {
      {"core", RLIMIT_CORE},     {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
      {"fsize", RLIMIT_FSIZE},   {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
      {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},   {"nofile", RLIMIT_NOFILE},
      {"nproc", RLIMIT_NPROC},   {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
      {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK}};
  const auto eq = text.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("expected TYPE=SOFT[:HARD], got '" + text + "'");
  const std::string name = text.substr(0, eq);
  auto it = kResources.find(name);
  if (it == kResources.end()) throw std::invalid_argument("'" + name + "' is not a ulimit type (nofile, nproc, core, stack, ...)");
  auto value = [&](const std::string& v) -> uint64_t {
    if (v == "unlimited" || v == "-1") return RLIM_INFINITY;
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("'" + text + "': '" + v + "' is not a number or 'unlimited'");
    return std::stoull(v);
  };
  const std::string rest = text.substr(eq + 1);
  const auto colon = rest.find(':');
  UlimitSpec u;
  u.resource = it->second;
  u.soft = value(rest.substr(0, colon));
  u.hard = colon == std::string::npos ? u.soft : value(rest.substr(colon + 1));
  if (u.soft > u.hard) throw std::invalid_argument("'" + text + "': the soft limit is above the hard limit");
  return u;
}

void AddCompatFlags(CLI::App* cmd, const std::shared_ptr<CompatFlags>& f) {
  const std::string g = "docker buildx / buildah compatible";
  auto multi = [&](const char* name, std::vector<std::string>& v, const char* help) {
    cmd->add_option(name, v, help)->allow_extra_args(false)->group(g);
  };
  multi("--label", f->labels, "Image config label KEY=VALUE (repeatable)");
  multi("--annotation", f->annotations, "Annotation [manifest:|index:]KEY=VALUE on the manifest (default) or the OCI layout's index");
  multi("--add-host", f->add_hosts, "Line for RUN's /etc/hosts: NAME:IP (or NAME=IP)");
  multi("--build-context", f->build_contexts, "Named context NAME=DIR|docker-image://REF|oci-layout://PATH[:TAG] for FROM and COPY --from");
  multi("--ssh", f->ssh, "Agent for RUN --mount=type=ssh: default | ID=SOCKET | ID=KEYFILE[,KEYFILE] (served by an agent of kiln's own)");
  multi("--ulimit", f->ulimits, "RUN resource limit TYPE=SOFT[:HARD], e.g. nofile=1024:2048");
  multi("--attest", f->attest, "Attestation type=sbom|provenance[,disabled=true] (kiln attaches both together)");
  multi("--build-arg-file", f->build_arg_files, "File of KEY=VALUE build arguments, one per line (buildah)");
  cmd->add_option("--shm-size", f->shm_size, "Size of RUN's /dev/shm (e.g. 128m; default 64m)")->group(g);
  cmd->add_option("--cgroup-parent", f->cgroup_parent, "Accepted; rootless kiln does not choose RUN's cgroup (docs/docker-compat.md)")->group(g);
  cmd->add_option("--call", f->call, "build (default) or check: only run the build checks, exit 1 on findings")
      ->check(CLI::IsMember({"build", "check"}))->group(g);
  cmd->add_flag("--check", f->check, "Same as --call=check")->group(g);
  cmd->add_flag("--sbom", f->sbom, "Attach SPDX/CycloneDX SBOMs and SLSA provenance (--sbom=false: none)")->group(g);
  cmd->add_flag("--provenance", f->provenance, "Same as --sbom: kiln attaches provenance with the SBOMs (true, false, mode=min|max)")->group(g);
  cmd->add_flag("--pull", f->pull, "Always pull named base images (true, always; false, missing: only when not in the store)")->group(g);
  cmd->add_flag("--squash", f->squash, "Squash all of the image's layers into one (buildah)")->group(g);
  cmd->add_option("--sign-by", f->sign_by, "Sign the image with this cosign key (from kiln keygen; password in $KILN_PASSWORD)")->group(g);
  cmd->add_option("--userns", f->userns, "container (kiln always builds in a user namespace of its own)")
      ->check(CLI::IsMember({"container", "auto"}))->group(g);
  cmd->add_flag("--tls-verify", f->tls_verify, "false: same as --insecure (buildah)")->group(g);
  cmd->add_option("--authfile", f->authfile, "Registry credentials file, as $REGISTRY_AUTH_FILE (buildah, podman)")->group(g);
  cmd->add_flag("--load", f->load, "Accepted: the image is in kiln's store; for docker: -o type=docker,dest=- | docker load")->group(g);
  cmd->add_flag("--layers", f->layers, "Accepted (buildah): kiln always caches each step")->group(g);
  cmd->add_flag("--rm,--force-rm", f->legacy_noop, "Accepted (docker): kiln keeps no intermediate containers")->group(g);
}

void ApplyCompatFlags(const CompatFlags& f, BuildOptions& opts, std::vector<std::string>& notes) {
  for (const auto& l : f.labels) {
    auto [k, v] = KeyValue(l, "--label");
    opts.labels[k] = v;
  }
  for (const auto& a : f.annotations) {
    auto [k, v] = KeyValue(a, "--annotation");
    auto colon = k.find(':');
    const std::string where = colon == std::string::npos ? "manifest" : k.substr(0, colon);
    if (colon != std::string::npos) k = k.substr(colon + 1);
    if (k.empty()) throw CLI::ValidationError("--annotation", "no key in '" + a + "'");
    if (where == "manifest") opts.manifest_annotations[k] = v;
    else if (where == "index") opts.index_annotations[k] = v;
    else
      throw CLI::ValidationError("--annotation", "'" + where + ":' in '" + a +
                                 "': kiln writes one manifest; use manifest: (default) or index:");
  }
  for (const auto& h : f.add_hosts) {
    // docker: NAME:IP, where IP may be IPv6 (colons); buildx also NAME=IP.
    auto sep = h.find('=');
    if (sep == std::string::npos) sep = h.find(':');
    const std::string name = sep == std::string::npos ? "" : h.substr(0, sep);
    const std::string ip = sep == std::string::npos ? "" : h.substr(sep + 1);
    if (name.empty() || ip.empty() || name.find_first_of(" \t") != std::string::npos)
      throw CLI::ValidationError("--add-host", "expected NAME:IP, got '" + h + "'");
    if (ip == "host-gateway")
      throw CLI::ValidationError("--add-host", h + ": RUN shares the host's network here; write 127.0.0.1 for the host");
    if (ip.find_first_not_of("0123456789abcdefABCDEF.:[]") != std::string::npos)
      throw CLI::ValidationError("--add-host", h + ": '" + ip + "' is not an IP address");
    std::string clean_ip = ip;
    if (clean_ip.size() > 2 && clean_ip.front() == '[' && clean_ip.back() == ']') clean_ip = clean_ip.substr(1, clean_ip.size() - 2);
    opts.add_hosts.push_back(name + " " + clean_ip);
  }
  for (const auto& c : f.build_contexts) {
    auto [k, v] = KeyValue(c, "--build-context");
    opts.build_contexts[k] = v;
  }
  try {
    for (const auto& s : f.ssh) opts.ssh.push_back(ParseSshFlag(s));
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError("--ssh", e.what());
  }
  for (const auto& u : f.ulimits) {
    try {
      opts.ulimits.push_back(ParseUlimit(u));
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--ulimit", e.what());
    }
  }
  if (!f.shm_size.empty()) {
    try {
      opts.shm_size = ParseByteSize(f.shm_size);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--shm-size", e.what());
    }
    if (opts.shm_size == 0) throw CLI::ValidationError("--shm-size", "must be more than 0");
  }
  if (!f.cgroup_parent.empty())
    notes.push_back("--cgroup-parent " + f.cgroup_parent + " has no effect: rootless kiln cannot place RUN steps in "
                    "a cgroup of your choice (docs/docker-compat.md)");
  opts.check_only = f.check || f.call == "check";

  std::optional<bool> sbom, provenance;
  if (!f.sbom.empty()) sbom = Enabled(f.sbom, "--sbom");
  if (!f.provenance.empty()) provenance = Enabled(f.provenance, "--provenance");
  for (const auto& a : f.attest) {
    std::map<std::string, std::string> kv;
    try {
      kv = ParseCsvKv(a, "--attest");
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--attest", e.what());
    }
    const bool on = !kv.count("disabled") || kv["disabled"] != "true";
    if (kv["type"] == "sbom") sbom = on;
    else if (kv["type"] == "provenance") provenance = on;
    else throw CLI::ValidationError("--attest", "type=sbom or type=provenance, got '" + a + "'");
  }
  if (sbom.value_or(false) || provenance.value_or(false)) {
    opts.sbom = true;
    if (sbom.value_or(false) != provenance.value_or(false))
      notes.push_back("kiln attaches SBOMs and provenance together: both are attached");
  } else if (sbom.has_value() || provenance.has_value()) {
    opts.sbom = false;
  }

  if (!f.pull.empty()) {
    if (f.pull == "true" || f.pull == "always") opts.pull = true;
    else if (f.pull == "false" || f.pull == "missing" || f.pull == "ifmissing") opts.pull = false;
    else if (f.pull == "never")
      throw CLI::ValidationError("--pull", "never is not supported: kiln pulls a base that is not in its store");
    else throw CLI::ValidationError("--pull", "true, false, always or missing, got '" + f.pull + "'");
  }
  if (!f.authfile.empty()) {
    // The environment carries it into the build's namespace (kiln re-executes itself there).
    if (::access(f.authfile.c_str(), R_OK) != 0)
      throw CLI::ValidationError("--authfile", f.authfile + ": " + std::strerror(errno));
    ::setenv("REGISTRY_AUTH_FILE", std::filesystem::absolute(f.authfile).c_str(), 1);
  }
  if (!f.tls_verify.empty()) {
    if (f.tls_verify == "false") opts.insecure_registry = true;
    else if (f.tls_verify != "true") throw CLI::ValidationError("--tls-verify", "true or false, got '" + f.tls_verify + "'");
  }
  opts.squash = f.squash;
  opts.sign_key = f.sign_by;
  if (f.load) notes.push_back("--load: the image is in kiln's store (kiln images); for docker: kiln build -o type=docker,dest=- . | docker load");
  if (!f.layers) notes.push_back("--layers=false: kiln caches every step anyway (--no-cache to rebuild)");

  for (const auto& file : f.build_arg_files) {
    std::string text;
    try {
      text = ReadInputFile(file);
    } catch (const std::exception& e) {
      throw CLI::ValidationError("--build-arg-file", e.what());
    }
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string::npos) j = text.size();
      std::string line = text.substr(i, j - i);
      i = j + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto first = line.find_first_not_of(" \t");
      if (first == std::string::npos || line[first] == '#') continue;
      auto [k, v] = KeyValue(line.substr(first), "--build-arg-file " + file);
      opts.build_args.emplace(k, v);  // --build-arg on the command line wins
    }
  }
}

}  // namespace kiln::builder
