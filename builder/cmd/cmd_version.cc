#include <CLI/CLI.hpp>
#include <archive.h>
#include <openssl/crypto.h>
#include <seccomp.h>

#include <iostream>

#include "builder/cmd/commands.h"
#include "oci/registry/http_client.h"

namespace kiln::builder {

std::string VersionLine() {
  return std::string("kiln ") + KILN_VERSION + " (commit " + KILN_GIT_COMMIT + ")";
}

void AddVersionCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Show the kiln version and the libraries it runs with");
  cmd->callback([] {
    const scmp_version* sv = seccomp_version();
    std::cout << VersionLine() << "\n"
              << "  libseccomp " << sv->major << "." << sv->minor << "." << sv->micro << "\n"
              << "  " << archive_version_details() << "\n"
              << "  " << OpenSSL_version(OPENSSL_VERSION) << "\n"
              << "  " << oci::HttpLibraryVersion() << "\n";
  });
}

}  // namespace kiln::builder
