#pragma once

#include <cstddef>
#include <string>

namespace kiln::builder {

// Larger than any Dockerfile or ignore file: beyond it the input is refused
// (stdin is not read to its end, which may never come).
inline constexpr size_t kMaxInputFile = 16 << 20;

// Reads a whole file, or stdin for "-", of at most kMaxInputFile bytes.
// Throws builder::Error naming the path and the reason.
std::string ReadInputFile(const std::string& path);

// ReadInputFile for the build's Dockerfile: the error reads
// "Dockerfile: cannot read PATH: why".
std::string ReadDockerfileText(const std::string& path);

}  // namespace kiln::builder
