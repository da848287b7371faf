#include "builder/ssh_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "builder/config_apply.h"

extern char** environ;

namespace kiln::builder {
namespace fs = std::filesystem;

namespace {

// Starts argv with `extra_env` added, stdin from /dev/null and stdout and
// stderr into `log`. The child gets SIGTERM when kiln dies, so an agent
// never outlives the build that started it.
pid_t SpawnTied(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, const fs::path& log) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const auto& x : extra_env) replaced |= kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0;
    if (!replaced) env_store.push_back(kv);
  }
  for (const auto& x : extra_env) env_store.push_back(x);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store = argv;
  for (auto& s : argv_store) args.push_back(s.data());
  args.push_back(nullptr);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (null_fd < 0 || log_fd < 0) {
    const int err = errno;
    if (null_fd >= 0) ::close(null_fd);
    if (log_fd >= 0) ::close(log_fd);
    throw std::runtime_error("--ssh: opening " + log.string() + ": " + std::strerror(err));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // kiln died before prctl took effect
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  const int err = errno;
  ::close(null_fd);
  ::close(log_fd);
  if (pid < 0) throw std::runtime_error("--ssh: fork for " + argv[0] + ": " + std::strerror(err));
  return pid;
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
      throw std::runtime_error("--ssh " + id + ": a directory for the agent (" + tmpl + "): " + std::strerror(errno));
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
    pid_ = SpawnTied({"ssh-agent", "-D", "-a", socket_}, {}, dir_ / "agent.log");
    // Ready once the socket exists; an agent that exits says why in its log.
    for (int i = 0; i < 500; ++i) {
      struct stat st {};
      if (::stat(socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) break;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const bool missing = WIFEXITED(status) && WEXITSTATUS(status) == 127;
        throw std::runtime_error("--ssh " + id + ": " +
                                 (missing ? std::string("ssh-agent is not installed (openssh-client), and a key file needs it")
                                          : "ssh-agent failed: " + ReadLog(dir_ / "agent.log")));
      }
      if (i == 499) throw std::runtime_error("--ssh " + id + ": ssh-agent made no socket at " + socket_ + " within 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // No prompt: a key with a passphrase is refused rather than asked for.
    std::vector<std::string> argv = {"ssh-add", "-q"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    const pid_t add = SpawnTied(argv, {"SSH_AUTH_SOCK=" + socket_, "SSH_ASKPASS_REQUIRE=never", "DISPLAY="},
                                dir_ / "add.log");
    int status = 0;
    while (::waitpid(add, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string keys_text;
      for (const auto& k : keys) keys_text += (keys_text.empty() ? "" : ",") + k;
      throw std::runtime_error("--ssh " + id + "=" + keys_text + ": ssh-add could not load the key: " +
                               ReadLog(dir_ / "add.log") +
                               " (a key with a passphrase cannot be asked for here: load it into your agent with "
                               "ssh-add and pass --ssh " + id + "=$SSH_AUTH_SOCK)");
    }
  }

  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  std::string socket_;
  pid_t pid_ = -1;
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
