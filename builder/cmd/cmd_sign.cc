// `kiln keygen`, `kiln sign`, `kiln verify`: cosign-format key-based
// signatures of images in the local store, or, for an image that is not
// there (or with --remote), in its registry (bodies in oci/supply_chain.h).
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
#include "builder/cmd/commands.h"
#include "builder/error.h"
#include "builder/push.h"
#include "oci/error.h"
#include "oci/image_index.h"
#include "oci/reference.h"
#include "oci/supply/referrers.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"
#include "oci/supply/supply_chain.h"

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
    throw Error({what, "", "no password", "set KILN_PASSWORD (may be empty) or run on a terminal to be prompted"});
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
    throw Error({what, "", "the passwords do not match", "type the same password twice"});
  return pw;
}

// The top-level manifest `name` names in its registry, and its body.
oci::Descriptor RemoteTop(oci::RegistryClient& client, const std::string& name, std::string* body) {
  oci::Descriptor top;
  *body = client.GetManifest(oci::Reference::Parse(name), &top);
  return top;
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
    auto* cmd = app.add_subcommand("sign", "Sign an image (cosign format): in the local store, else in its registry");
    auto name = std::make_shared<std::string>();
    auto key = std::make_shared<std::string>();
    auto push = std::make_shared<std::string>();
    auto remote = std::make_shared<bool>(false);
    auto insecure = std::make_shared<bool>(false);
    cmd->add_option("IMAGE", *name, "Image in the local store, else a registry reference")->required();
    cmd->add_option("--key", *key, "Private key (from kiln keygen)")->required();
    cmd->add_option("--push", *push, "Push the signature image to this repository (e.g. localhost:5000/app)");
    cmd->add_flag("--remote", *remote, "Sign the image in the registry even when it is in the local store");
    cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
    cmd->callback([name, key, push, remote, insecure] {
      oci::Store store(oci::Store::DefaultRoot());
      oci::Store::Lock lock(store, false);
      std::optional<oci::Descriptor> local;
      if (!*remote) local = store.ResolveTag(NormalizeTag(*name));
      // An image only in a registry: sign the digest the registry serves and
      // push the signature next to it.
      const std::string dest_name = !push->empty() ? *push : (local ? "" : *name);
      // The payload names the repository the signature will be checked
      // against: the push destination when there is one.
      const std::string repo = RepositoryName(dest_name.empty() ? *name : dest_name);
      std::unique_ptr<oci::RegistryClient> client;
      if (!dest_name.empty() || !local) client = std::make_unique<oci::RegistryClient>(oci::RegistryOptions().AllowInsecure(*insecure));
      oci::Descriptor top;
      std::string body;
      if (local) {
        top = *local;
        if (oci::IsIndex(store, top)) {
          body = store.ReadBlob(top.digest);
          top.media_type = oci::ParseIndex(body).media_type;
        }
      } else {
        top = RemoteTop(*client, *name, &body);
      }
      // A multi-platform image: the index and each platform's manifest.
      const std::vector<oci::Descriptor> subjects = oci::SignedSubjects(top, body);
      auto sig_ref = [&](const oci::Digest& subject) {
        oci::Reference dest = oci::Reference::Parse(dest_name);
        dest.digest.clear();
        dest.tag = oci::SignatureTag(subject);
        return dest;
      };
      if (!dest_name.empty()) {
        // Signatures already in the registry are kept: ours is added to them (as cosign does).
        for (const oci::Descriptor& d : subjects) {
          const std::string local_tag = repo + ":" + oci::SignatureTag(d.digest);
          if (!store.ResolveTag(local_tag) && client->HeadManifest(sig_ref(d.digest)))
            store.SetTag(local_tag, client->Pull(sig_ref(d.digest), store, oci::Platform{}));
        }
      }
      const std::string pw = ReadPassword("sign", false);
      std::vector<oci::Signature> sigs;
      if (local) {
        sigs = oci::SignAll(store, top, repo, *key, pw);
      } else {
        for (const oci::Descriptor& d : subjects) sigs.push_back(oci::Sign(store, d, repo, *key, pw));
      }
      for (size_t i = 0; i < sigs.size(); ++i) {
        const oci::Signature& sig = sigs[i];
        std::cerr << "signed " << repo << "@" << sig.subject.str() << " -> " << repo << ":"
                  << oci::SignatureTag(sig.subject) << (subjects.size() > 1 ? " (" + oci::DescribeSubject(subjects[i]) + ")" : "")
                  << "\n";
        if (!dest_name.empty()) {
          const oci::Reference dest = sig_ref(sig.subject);
          const oci::Digest d = client->Push(store, sig.sig_manifest, dest);
          std::cout << dest.str() << ": " << d.str() << "\n";
        } else {
          std::cout << sig.sig_manifest.digest.str() << "\n";
        }
      }
    });
  }
  {
    auto* cmd = app.add_subcommand(
        "verify", "Verify an image's signature with a public key (exit 1 if none verifies): local store, else registry");
    auto name = std::make_shared<std::string>();
    auto key = std::make_shared<std::string>();
    auto reference = std::make_shared<std::string>();
    auto remote = std::make_shared<bool>(false);
    auto insecure = std::make_shared<bool>(false);
    cmd->add_option("IMAGE", *name, "Image in the local store, else a registry reference")->required();
    cmd->add_option("--key", *key, "Public key (from kiln keygen)")->required();
    cmd->add_option("--reference", *reference, "Repository the signature names (default: IMAGE's repository)");
    cmd->add_flag("--remote", *remote, "Verify against the registry even when the image is in the local store");
    cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
    cmd->callback([name, key, reference, remote, insecure] {
      oci::Store store(oci::Store::DefaultRoot());
      oci::Store::Lock lock(store, false);
      const std::string repo = RepositoryName(reference->empty() ? *name : *reference);
      std::optional<oci::Descriptor> local;
      if (!*remote) local = store.ResolveTag(NormalizeTag(*name));
      std::unique_ptr<oci::RegistryClient> client;
      oci::Descriptor top;
      std::string body;
      if (local) {
        top = *local;
        if (oci::IsIndex(store, top)) {
          body = store.ReadBlob(top.digest);
          top.media_type = oci::ParseIndex(body).media_type;
        }
      } else {
        // The digest the registry serves now, and the signatures stored for it there.
        client = std::make_unique<oci::RegistryClient>(oci::RegistryOptions().AllowInsecure(*insecure));
        top = RemoteTop(*client, *name, &body);
      }
      // Every subject is checked and every failure named: an index whose
      // arm64 manifest lacks a signature says so, not just "failed".
      const std::vector<oci::Descriptor> subjects = oci::SignedSubjects(top, body);
      std::string failed;
      for (const oci::Descriptor& subject : subjects) {
        try {
          if (local) {
            oci::Verify(store, subject.digest, repo, *key);  // throws explaining each failure
          } else {
            oci::Reference sig_ref = oci::Reference::Parse(*name);
            sig_ref.digest.clear();
            sig_ref.tag = oci::SignatureTag(subject.digest);
            if (!client->HeadManifest(sig_ref))
              throw oci::Error("no signature in the registry (" + sig_ref.str() + " not found)");
            const oci::Descriptor sig = client->Pull(sig_ref, store, oci::Platform{});
            oci::VerifySignatureManifest(store, sig, subject.digest, repo, *key);
          }
          std::cout << "Verified OK: " << repo << "@" << subject.digest.str()
                    << (subjects.size() > 1 ? " (" + oci::DescribeSubject(subject) + ")" : "") << (local ? "" : " (registry)") << "\n";
        } catch (const oci::Error& e) {
          if (subjects.size() == 1) throw;  // one image: its own error says it all
          failed += "\n  " + oci::DescribeSubject(subject) + ": " + e.what();
        }
      }
      if (!failed.empty())
        throw oci::Error("verify " + repo + "@" + top.digest.str() +
                         ": the index and each platform's manifest must verify; failed:" + failed);
    });
  }
}

}  // namespace kiln::builder
