#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "builder/commands.h"
#include "builder/read_input.h"
#include "frontend/ast.h"

namespace kiln::builder {

void AddParseCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("parse", "Parse a Dockerfile and print its parse tree");
  struct Opts {
    std::string file;
    bool dump = false;
  };
  auto opts = std::make_shared<Opts>();
  cmd->add_flag("--dump", opts->dump, "Print the tree in BuildKit's parser test format");
  cmd->add_option("FILE", opts->file, "Dockerfile to parse ('-' for stdin)")->required();
  cmd->callback([opts] {
    const std::string text = ReadInputFile(opts->file);
    const auto parsed = frontend::Parse(text, opts->file);
    for (const auto& w : parsed.warnings) std::cerr << opts->file << ":" << w.line << ": warning: " << w.message << "\n";
    std::cout << frontend::Dump(parsed);
  });
}

}  // namespace kiln::builder
