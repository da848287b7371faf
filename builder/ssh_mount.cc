#include "builder/ssh_mount.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "builder/config_apply.h"

namespace kiln::builder {

SshSpec ParseSshFlag(const std::string& value) {
  SshSpec s;
  const auto eq = value.find('=');
  s.id = value.substr(0, eq);
  if (s.id.empty()) throw std::invalid_argument("--ssh " + value + ": expected default, default=SOCKET or ID=SOCKET");
  std::string paths = eq == std::string::npos ? "" : value.substr(eq + 1);
  if (paths.empty()) {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    if (!sock || !*sock)
      throw std::invalid_argument("--ssh " + value + ": SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent); ssh-add) "
                                  "or name its socket: --ssh " + s.id + "=PATH");
    paths = sock;
  }
  size_t i = 0;
  while (i <= paths.size()) {
    size_t j = paths.find(',', i);
    if (j == std::string::npos) j = paths.size();
    const std::string p = paths.substr(i, j - i);
    i = j + 1;
    if (p.empty()) continue;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0)
      throw std::invalid_argument("--ssh " + s.id + "=" + p + ": " + std::strerror(errno));
    if (!S_ISSOCK(st.st_mode))
      throw std::invalid_argument("--ssh " + s.id + "=" + p + ": not an agent socket; kiln forwards ssh agents only: "
                                  "load the key into one (eval $(ssh-agent); ssh-add " + p + ") and pass --ssh " +
                                  s.id + "=$SSH_AUTH_SOCK");
    s.paths.push_back(std::filesystem::absolute(p).string());
  }
  if (s.paths.size() != 1)
    throw std::invalid_argument("--ssh " + value + ": kiln forwards one agent socket per id");
  return s;
}

std::optional<sandbox::Mount> SshAgentMount(const frontend::MountSpec& m, const std::vector<SshSpec>& ssh,
                                            const std::string& cwd, std::vector<std::string>& env) {
  const std::string id = m.id.empty() ? "default" : m.id;
  const SshSpec* found = nullptr;
  for (const auto& s : ssh)
    if (s.id == id) found = &s;
  if (!found) {
    if (m.required) throw std::runtime_error("ssh agent " + id + " is required but was not given (kiln build --ssh " + id + ")");
    return std::nullopt;  // BuildKit runs the step without an optional agent nobody forwarded
  }
  sandbox::Mount sm;
  sm.source = found->paths.front();
  sm.target = m.target.empty() ? "/run/buildkit/ssh_agent.0" : JoinWorkdir(cwd, m.target);
  // Writable: connect() needs write permission on the socket, and a bind of
  // a socket carries no data a step could change.
  sm.readonly = false;
  env.push_back("SSH_AUTH_SOCK=" + sm.target);
  return sm;
}

}  // namespace kiln::builder
