#include "frontend/error.h"

namespace kiln::frontend {

std::string Location::str() const {
  std::string s = file.empty() ? "Dockerfile" : file;
  if (line > 0) s += ":" + std::to_string(line);
  if (line > 0 && column > 0) s += ":" + std::to_string(column);
  return s;
}

Error::Error(Location where, const std::string& message)
    : std::runtime_error(where.str() + ": " + message), where_(std::move(where)), message_(message) {}

}  // namespace kiln::frontend
