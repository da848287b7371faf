#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/cmd/commands.h"
#include "builder/read_input.h"
#include "frontend/ast.h"

namespace kiln::builder {

void AddParseCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("parse", "Parse Dockerfiles and print their parse trees");
  struct Opts {
    std::vector<std::string> files;
    bool dump = false;
  };
  auto opts = std::make_shared<Opts>();
  cmd->add_flag("--dump", opts->dump, "Print each tree in BuildKit's parser test format");
  cmd->add_option("FILE", opts->files, "Dockerfiles to parse ('-' for stdin)")->required();
  cmd->callback([opts] {
    for (const auto& file : opts->files) {
      const auto parsed = frontend::Parse(ReadInputFile(file), file);
      for (const auto& w : parsed.warnings) std::cerr << file << ":" << w.line << ": warning: " << w.message << "\n";
      if (opts->dump) std::cout << frontend::Dump(parsed);
    }
  });
}

}  // namespace kiln::builder
