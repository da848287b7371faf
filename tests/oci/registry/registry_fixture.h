// Test helpers for the registry client, all real: Debian's docker-registry on
// 127.0.0.1 (own storage, optional htpasswd basic auth and TLS with a CA the
// test makes with openssl), and a tiny scripted HTTP server for behaviour a
// real registry will not show on demand (503s, stalls, bearer tokens).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/oci/ocicore_test_util.h"

extern char** environ;

namespace kiln::testing {
namespace fs = std::filesystem;

inline bool HaveTool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using oci::ocitest::WriteText;

// Runs a shell command; returns its exit status and stdout+stderr.
inline int Shell(const std::string& cmd, std::string* output = nullptr) {
  std::string full = "(" + cmd + ") 2>&1";
  FILE* f = ::popen(full.c_str(), "r");
  if (!f) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int status = ::pclose(f);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("bind 127.0.0.1:0 failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct RegistryConfig {
  std::string user, password;  // non-empty: htpasswd basic auth
  bool tls = false;            // self-signed CA + server cert for 127.0.0.1
  bool client_certs = false;   // with tls: clients must show a certificate of that CA
};

// docker-registry serving 127.0.0.1:<free port> from `dir`.
class LocalRegistry {
 public:
  LocalRegistry(fs::path dir, RegistryConfig cfg) : dir_(std::move(dir)), cfg_(std::move(cfg)) {}
  ~LocalRegistry() { Stop(); }
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // Returns "" on success, else why it could not start.
  std::string Start() {
    port_ = FreePort();
    fs::create_directories(dir_ / "data");
    std::string out;
    if (cfg_.tls) {
      fs::path certs = dir_ / "certs" / host();
      fs::create_directories(certs);
      std::string d = dir_.string();
      std::string cmd =
          "cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
          " -keyout ca.key -out ca.crt -days 2 -subj /CN=kiln-test-ca"
          " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key"
          " -out server.csr -subj /CN=127.0.0.1"
          " && printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf"
          " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt"
          " -days 2 -extfile ext.cnf && cp ca.crt " + certs.string() + "/ca.crt";
      if (cfg_.client_certs) {
        // The client pair as docker and containers/image look for it: HOST/client.cert + client.key.
        cmd += " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + certs.string() +
               "/client.key -out client.csr -subj /CN=kiln-test-client"
               " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out " + certs.string() +
               "/client.cert -days 2";
      }
      if (Shell(cmd, &out) != 0) return "openssl failed: " + out;
    }
    if (!cfg_.user.empty()) {
      if (Shell("htpasswd -Bbn '" + cfg_.user + "' '" + cfg_.password + "' > " + (dir_ / "htpasswd").string(),
                &out) != 0) {
        return "htpasswd failed: " + out;
      }
    }
    std::string yml = "version: 0.1\nlog: {level: info, accesslog: {disabled: false}}\n"
                      "storage: {filesystem: {rootdirectory: " + (dir_ / "data").string() +
                      "}, delete: {enabled: true}}\nhttp:\n  addr: " + host() + "\n";
    if (cfg_.tls) {
      yml += "  tls: {certificate: " + (dir_ / "server.crt").string() + ", key: " + (dir_ / "server.key").string() +
             (cfg_.client_certs ? ", clientcas: [" + (dir_ / "ca.crt").string() + "]" : std::string()) + "}\n";
    }
    if (!cfg_.user.empty()) {
      yml += "auth: {htpasswd: {realm: kiln-test, path: " + (dir_ / "htpasswd").string() + "}}\n";
    }
    WriteText(dir_ / "config.yml", yml);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = log_path().string();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::string config = (dir_ / "config.yml").string();
    char* argv[] = {const_cast<char*>("docker-registry"), const_cast<char*>("serve"), config.data(), nullptr};
    int rc = ::posix_spawnp(&pid_, "docker-registry", &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return "spawn docker-registry failed";
    }
    for (int i = 0; i < 200; ++i) {
      if (CanConnect(port_)) return "";
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "docker-registry exited: " + ReadText(log_path());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "docker-registry did not listen within 10s: " + ReadText(log_path());
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  fs::path cert_dir() const { return dir_ / "certs"; }
  fs::path log_path() const { return dir_ / "log"; }
  std::string Log() const { return ReadText(log_path()); }
  // Access-log lines like `"HEAD /v2/a/blobs/sha256:... HTTP/1.1" 200`.
  int CountRequests(const std::string& method, const std::string& path_part = "/v2/") const {
    std::istringstream in(Log());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      auto q = line.find("\"" + method + " ");
      if (q == std::string::npos) continue;
      auto end = line.find(" HTTP/", q);
      if (end != std::string::npos && line.substr(q, end - q).find(path_part) != std::string::npos) n++;
    }
    return n;
  }

 private:
  fs::path dir_;
  RegistryConfig cfg_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One-connection-at-a-time HTTP/1.1 server; `handler(request_head, body)`
// returns the raw response (the server adds nothing and closes the connection).
class ScriptedServer {
 public:
  using Handler = std::function<std::string(const std::string& head, const std::string& body)>;
  explicit ScriptedServer(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      throw std::runtime_error("scripted server: bind/listen failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

  static std::string Response(int status, const std::string& reason, const std::string& body,
                              const std::vector<std::string>& headers = {}) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nConnection: close\r\n";
    for (const auto& h : headers) r += h + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return r;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string data;
      char buf[4096];
      size_t head_end = std::string::npos;
      while (head_end == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (static_cast<unsigned char>(data[0]) == 0x16) break;  // a TLS ClientHello: plain HTTP only
        head_end = data.find("\r\n\r\n");
      }
      if (head_end == std::string::npos) {
        ::close(c);
        continue;
      }
      std::string head = data.substr(0, head_end);
      std::string body = data.substr(head_end + 4);
      size_t want = 0;
      std::string lower = head;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (auto cl = lower.find("content-length:"); cl != std::string::npos) want = std::stoul(head.substr(cl + 15));
      while (body.size() < want) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        body.append(buf, static_cast<size_t>(n));
      }
      requests_++;
      std::string resp = handler_(head, body);
      if (!resp.empty()) {
        ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      } else {
        // Empty response: stall until the client gives up or we stop.
        while (!stop_) {
          pollfd q{c, POLLIN, 0};
          if (::poll(&q, 1, 50) > 0 && ::recv(c, buf, sizeof buf, 0) <= 0) break;
        }
      }
      ::close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Per-test scratch dir, removed afterwards.
class TempDirFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-registry-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

// Skips unless docker-registry is installed.
class RegistryFixture : public TempDirFixture {
 protected:
  void SetUp() override {
    TempDirFixture::SetUp();
    if (!HaveTool("docker-registry")) GTEST_SKIP() << "docker-registry not installed";
  }
  void TearDown() override {
    registries_.clear();
    TempDirFixture::TearDown();
  }
  // Starts a registry; fails the test if it cannot.
  LocalRegistry& StartRegistry(RegistryConfig cfg = {}) {
    auto r = std::make_unique<LocalRegistry>(dir_ / ("registry" + std::to_string(registries_.size())), cfg);
    std::string err = r->Start();
    EXPECT_EQ(err, "");
    registries_.push_back(std::move(r));
    return *registries_.back();
  }

 private:
  std::vector<std::unique_ptr<LocalRegistry>> registries_;
};

}  // namespace kiln::testing
