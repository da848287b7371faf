#include "builder/cmd/cli.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

#include "builder/cmd/commands.h"

namespace kiln::builder {

namespace {

using AddFn = void (*)(CLI::App&);

// Order is the order `kiln --help` lists them.
constexpr AddFn kCommands[] = {
    AddBuildCommand, AddImagesCommand, AddInspectCommand, AddRmiCommand,
    AddPushCommand,  AddPullCommand,   AddLintCommand,    AddParseCommand,
    AddSbomCommand,  AddSignCommands,  AddLoginCommands,  AddStoreCommands,
    AddVersionCommand, AddCompletionCommands, AddLayerCommand,
};

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"Build OCI images from Dockerfiles as an unprivileged user, with no daemon.", "kiln"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionLine());
  app.footer(
      "The local store is $KILN_ROOT (default $XDG_DATA_HOME/kiln, else ~/.local/share/kiln).\n"
      "Run 'kiln COMMAND --help' for more information on a command.");
  for (AddFn add : kCommands) add(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors: exit 2 with the message and a pointer to --help.
    std::cerr << "kiln: " << e.what() << "\nSee 'kiln --help'.\n";
    return 2;
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "kiln: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace kiln::builder
