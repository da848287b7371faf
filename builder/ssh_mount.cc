#include "builder/ssh_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <stdexcept>
#include <thread>

#include "builder/config_apply.h"
#include "builder/error.h"
#include "sandbox/subprocess.h"
#include "sandbox/unique_fd.h"

extern char** environ;

namespace kiln::builder {
namespace fs = std::filesystem;

namespace {

// kiln's environment with `extra` ("K=V") set over it.
std::vector<std::string> EnvWith(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view kv = *e;
    bool replaced = false;
    for (const auto& x : extra) replaced |= kv.substr(0, kv.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1);
    if (!replaced) env.emplace_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Starts argv with stdin from /dev/null and stdout and stderr into `log`.
// The child dies with kiln, so an agent never outlives the build that
// started it; dropping the handle stops it with SIGTERM.
sandbox::Subprocess SpawnLogged(const std::vector<std::string>& argv, std::optional<std::vector<std::string>> env,
                                const fs::path& log) {
  sandbox::UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  sandbox::UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!null_fd.valid() || !log_fd.valid()) ThrowErrno("--ssh: open", log.string());
  sandbox::SpawnOptions o;
  o.argv = argv;
  o.env = std::move(env);
  o.fds = {{0, null_fd.get()}, {1, log_fd.get()}, {2, log_fd.get()}};
  o.die_with_parent = true;
  o.kill_signal = SIGTERM;
  return sandbox::Subprocess(o);
}

std::string ReadLog(const fs::path& log) {
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// An ssh-agent of kiln's own for the keys of one --ssh id.
class KeyAgent {
 public:
  KeyAgent(const std::string& id, const std::vector<std::string>& keys) {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    std::error_code ec;
    std::string tmpl = (runtime && *runtime && fs::is_directory(runtime, ec) ? std::string(runtime) : std::string("/tmp")) +
                       "/kiln-ssh-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      ThrowErrno("--ssh " + id + ": a directory for the agent", tmpl, "set XDG_RUNTIME_DIR to a writable directory");
    dir_ = tmpl;
    socket_ = (dir_ / "agent.sock").string();
    try {
      Start(id, keys);
    } catch (...) {
      Stop();  // no destructor runs for an object whose constructor threw
      throw;
    }
  }
  KeyAgent(const KeyAgent&) = delete;
  KeyAgent& operator=(const KeyAgent&) = delete;
  ~KeyAgent() { Stop(); }
  const std::string& socket() const { return socket_; }

 private:
  void Start(const std::string& id, const std::vector<std::string>& keys) {
    if (!sandbox::FindInPath("ssh-agent"))
      throw Error({"--ssh", id, "ssh-agent is not installed, and a key file needs it", "install openssh-client"});
    agent_ = SpawnLogged({"ssh-agent", "-D", "-a", socket_}, std::nullopt, dir_ / "agent.log");
    // Ready once the socket exists; an agent that exits says why in its log.
    for (int i = 0; i < 500; ++i) {
      struct stat st {};
      if (::stat(socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) break;
      if (const auto status = agent_->WaitFor(std::chrono::milliseconds(0)))
        throw Error({"--ssh", id, "ssh-agent failed (" + sandbox::DescribeWaitStatus(*status) + "): " + ReadLog(dir_ / "agent.log")});
      if (i == 499) throw Error({"--ssh", id, "ssh-agent made no socket at " + socket_ + " within 5 s"});
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // No prompt: a key with a passphrase is refused rather than asked for.
    std::vector<std::string> argv = {"ssh-add", "-q"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    sandbox::Subprocess add = SpawnLogged(argv, EnvWith({"SSH_AUTH_SOCK=" + socket_, "SSH_ASKPASS_REQUIRE=never", "DISPLAY="}),
                                          dir_ / "add.log");
    if (!sandbox::ExitedZero(add.Wait())) {
      std::string keys_text;
      for (const auto& k : keys) keys_text += (keys_text.empty() ? "" : ",") + k;
      throw Error({"--ssh", id + "=" + keys_text, "ssh-add could not load the key: " + ReadLog(dir_ / "add.log"),
                   "a key with a passphrase cannot be asked for here: load it into your agent with "
                   "ssh-add and pass --ssh " + id + "=$SSH_AUTH_SOCK"});
    }
  }

  void Stop() {
    agent_.reset();  // SIGTERM, then reaped
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  std::string socket_;
  std::optional<sandbox::Subprocess> agent_;
};

// Agents live as long as kiln: the build's steps may use them until it ends.
std::vector<std::unique_ptr<KeyAgent>>& Agents() {
  static std::vector<std::unique_ptr<KeyAgent>> agents;
  return agents;
}

}  // namespace

void ServeSshKeys(std::vector<SshSpec>& ssh) {
  for (SshSpec& s : ssh) {
    struct stat st {};
    if (s.paths.empty() || ::stat(s.paths.front().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    Agents().push_back(std::make_unique<KeyAgent>(s.id, s.paths));
    s.paths = {Agents().back()->socket()};
  }
}

SshSpec ParseSshFlag(const std::string& value) {
  SshSpec s;
  const auto eq = value.find('=');
  s.id = value.substr(0, eq);
  if (s.id.empty())
    throw std::invalid_argument("--ssh " + value + ": expected default, default=SOCKET|KEY or ID=SOCKET|KEY[,KEY...]");
  std::string paths = eq == std::string::npos ? "" : value.substr(eq + 1);
  if (paths.empty()) {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    if (!sock || !*sock)
      throw std::invalid_argument("--ssh " + value + ": SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent); ssh-add) "
                                  "or name its socket or a key file: --ssh " + s.id + "=PATH");
    paths = sock;
  }
  std::vector<std::string> sockets, keys;
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
    if (S_ISSOCK(st.st_mode)) sockets.push_back(fs::absolute(p).string());
    else if (S_ISREG(st.st_mode)) keys.push_back(fs::absolute(p).string());
    else throw std::invalid_argument("--ssh " + s.id + "=" + p + ": neither an agent socket nor a key file");
  }
  if (!sockets.empty() && !keys.empty())
    throw std::invalid_argument("--ssh " + value + ": give one agent socket or key files, not both");
  if (sockets.size() > 1) throw std::invalid_argument("--ssh " + value + ": kiln forwards one agent socket per id");
  if (sockets.empty() && keys.empty()) throw std::invalid_argument("--ssh " + value + ": no socket or key file given");
  s.paths = keys.empty() ? sockets : keys;
  return s;
}

std::optional<sandbox::Mount> SshAgentMount(const frontend::MountSpec& m, const std::vector<SshSpec>& ssh,
                                            const std::string& cwd, std::vector<std::string>& env) {
  const std::string id = m.id.empty() ? "default" : m.id;
  const SshSpec* found = nullptr;
  for (const auto& s : ssh)
    if (s.id == id) found = &s;
  if (!found) {
    if (m.required) throw Error({"ssh agent " + id + " is required but was not given", "", "", "pass kiln build --ssh " + id});
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
