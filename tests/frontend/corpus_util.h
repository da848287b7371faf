// Locating and reading the checked-in test corpus (tests/data/corpus).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace kiln::frontend::testing {

inline std::string CorpusDir() {
  const char* env = std::getenv("KILN_TEST_DATA");
  std::string base = env && *env ? env : KILN_TEST_DATA;
  return base + "/corpus";
}

// BuildKit's parser fixtures (Dockerfile + result per case).
inline std::string BuildkitParserDir() { return CorpusDir() + "/buildkit-dockerfile-parser/parser"; }

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kiln::frontend::testing
