// `kiln keygen`, `kiln sign`, `kiln verify`: cosign-format key-based
// signatures of images in the local store (bodies in oci/supply_chain.h).
// The key password comes from $KILN_PASSWORD (like cosign's
// COSIGN_PASSWORD) or from a prompt when stdin is a terminal.
#include <CLI/CLI.hpp>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "builder/base_image.h"
#include "builder/commands.h"
#include "oci/error.h"
#include "oci/reference.h"
#include "oci/referrers.h"
#include "oci/registry.h"
#include "oci/store.h"
#include "oci/supply_chain.h"

namespace kiln::builder {

namespace {

// Restores the terminal's echo on every exit path.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios t = saved_;
    t.c_lflag &= ~tcflag_t(ECHO);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::string ReadPassword(const std::string& what, bool confirm) {
  if (const char* p = std::getenv("KILN_PASSWORD")) return p;
  if (!::isatty(STDIN_FILENO))
    throw std::runtime_error(what + ": no password: set KILN_PASSWORD (may be empty) or run on a terminal to be prompted");
  auto ask = [](const char* prompt) {
    std::cerr << prompt << std::flush;
    std::string line;
    {
      NoEcho guard;
      std::getline(std::cin, line);
    }
    std::cerr << "\n";
    return line;
  };
  std::string pw = ask("Enter password for private key: ");
  if (confirm && ask("Enter password for private key again: ") != pw)
    throw std::runtime_error(what + ": the passwords do not match");
  return pw;
}

// The repository as cosign names it in the payload: "localhost:5000/app"
// for "localhost:5000/app:1", "busybox" for "busybox:latest".
std::string RepositoryOf(const std::string& name) {
  std::string s = oci::Reference::Parse(name).familiar();
  if (auto at = s.find('@'); at != std::string::npos) s.resize(at);
  const auto colon = s.rfind(':');
  const auto slash = s.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) s.resize(colon);
  return s;
}

oci::Descriptor ResolveLocal(const oci::Store& store, const std::string& name, const std::string& what) {
  const auto desc = store.ResolveTag(NormalizeTag(name));
  if (!desc) throw oci::Error(what + ": no image " + name + " in the store " + store.root().string());
  return *desc;
}

}  // namespace

void AddSignCommands(CLI::App& app) {
  {
    auto* cmd = app.add_subcommand("keygen", "Create a cosign-compatible ECDSA P-256 key pair (PREFIX.key, PREFIX.pub)");
    auto prefix = std::make_shared<std::string>("cosign");
    cmd->add_option("--output-key-prefix", *prefix, "Write PREFIX.key and PREFIX.pub")->capture_default_str();
    cmd->callback([prefix] {
      const std::string priv = *prefix + ".key", pub = *prefix + ".pub";
      const std::string pw = ReadPassword("keygen", true);
      oci::KeyGen(priv, pub, pw);
      std::cerr << "Private key written to " << priv << "\nPublic key written to " << pub << "\n";
    });
  }
  {
    auto* cmd = app.add_subcommand("sign", "Sign an image in the local store (cosign format)");
    auto name = std::make_shared<std::string>();
    auto key = std::make_shared<std::string>();
    auto push = std::make_shared<std::string>();
    auto insecure = std::make_shared<bool>(false);
    cmd->add_option("IMAGE", *name, "Image in the local store")->required();
    cmd->add_option("--key", *key, "Private key (from kiln keygen)")->required();
    cmd->add_option("--push", *push, "Push the signature image to this repository (e.g. localhost:5000/app)");
    cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
    cmd->callback([name, key, push, insecure] {
      oci::Store store(oci::Store::DefaultRoot());
      oci::Store::Lock lock(store, false);
      const oci::Descriptor desc = ResolveLocal(store, *name, "sign");
      // The payload names the repository the signature will be checked
      // against: the push destination when there is one.
      const std::string repo = RepositoryOf(push->empty() ? *name : *push);
      const std::string pw = ReadPassword("sign", false);
      const oci::Signature sig = oci::Sign(store, desc, repo, *key, pw);
      std::cerr << "signed " << repo << "@" << desc.digest.str() << " -> " << repo << ":"
                << oci::SignatureTag(desc.digest) << "\n";
      if (!push->empty()) {
        oci::RegistryOptions ro;
        ro.insecure_http = *insecure;
        ro.tls_verify = !*insecure;
        oci::RegistryClient client(ro);
        oci::Reference dest = oci::Reference::Parse(*push);
        dest.digest.clear();
        dest.tag = oci::SignatureTag(desc.digest);
        const oci::Digest d = client.Push(store, sig.sig_manifest, dest);
        std::cout << dest.str() << ": " << d.str() << "\n";
      } else {
        std::cout << sig.sig_manifest.digest.str() << "\n";
      }
    });
  }
  {
    auto* cmd = app.add_subcommand("verify", "Verify an image's signature with a public key (exit 1 if none verifies)");
    auto name = std::make_shared<std::string>();
    auto key = std::make_shared<std::string>();
    auto reference = std::make_shared<std::string>();
    cmd->add_option("IMAGE", *name, "Image in the local store")->required();
    cmd->add_option("--key", *key, "Public key (from kiln keygen)")->required();
    cmd->add_option("--reference", *reference, "Repository the signature names (default: IMAGE's repository)");
    cmd->callback([name, key, reference] {
      oci::Store store(oci::Store::DefaultRoot());
      oci::Store::Lock lock(store, false);
      const oci::Descriptor desc = ResolveLocal(store, *name, "verify");
      const std::string repo = RepositoryOf(reference->empty() ? *name : *reference);
      oci::Verify(store, desc.digest, repo, *key);  // throws (exit 1) explaining each failure
      std::cout << "Verified OK: " << repo << "@" << desc.digest.str() << "\n";
    });
  }
}

}  // namespace kiln::builder
