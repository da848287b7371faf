#pragma once

#include <string>

namespace kiln::builder {

// Reads a whole file, or stdin for "-". Throws std::runtime_error naming the
// path and the reason.
std::string ReadInputFile(const std::string& path);

}  // namespace kiln::builder
