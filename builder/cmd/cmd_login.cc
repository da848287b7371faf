// `kiln login` / `kiln logout`: credentials in containers' auth.json.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "builder/cmd/commands.h"
#include "oci/error.h"
#include "oci/registry/registry.h"

namespace kiln::builder {

void AddLoginCommands(CLI::App& app) {
  struct Flags {
    std::string registry, user, password, auth_file;
    bool password_stdin = false, insecure = false;
  };
  auto f = std::make_shared<Flags>();
  auto* login = app.add_subcommand("login", "Log in to a registry");
  login->add_option("REGISTRY", f->registry, "Registry host[:port]")->required();
  login->add_option("-u,--username", f->user, "User name")->required();
  login->add_option("-p,--password", f->password, "Password (prefer --password-stdin)");
  login->add_flag("--password-stdin", f->password_stdin, "Read the password from stdin");
  login->add_option("--authfile", f->auth_file, "Auth file (default $REGISTRY_AUTH_FILE or ${XDG_RUNTIME_DIR}/containers/auth.json)");
  login->add_flag("--insecure", f->insecure, "Allow plain HTTP / unverified TLS");
  login->callback([f] {
    if (f->password_stdin) {
      std::getline(std::cin, f->password);
      while (!f->password.empty() && (f->password.back() == '\r' || f->password.back() == '\n')) f->password.pop_back();
    }
    if (f->password.empty()) throw oci::Error("login: a password is required (-p or --password-stdin)");
    oci::RegistryOptions ro;
    ro.auth_file = f->auth_file;
    ro.AllowInsecure(f->insecure);
    oci::Login(f->registry, f->user, f->password, ro);
    std::cout << "Login Succeeded\n";
  });
  auto* logout = app.add_subcommand("logout", "Log out of a registry");
  logout->add_option("REGISTRY", f->registry, "Registry host[:port]")->required();
  logout->add_option("--authfile", f->auth_file, "Auth file");
  logout->callback([f] {
    oci::RegistryOptions ro;
    ro.auth_file = f->auth_file;
    oci::Logout(f->registry, ro);
    std::cout << "Removed login credentials for " << f->registry << "\n";
  });
}

}  // namespace kiln::builder
