#pragma once

#include <stdexcept>
#include <string>

namespace kiln::sandbox {

// A sandbox failure with what was attempted, why it failed (errno text) and,
// where there is one, the setting to change.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("<what>: <strerror(errno)>").
[[noreturn]] void ThrowErrno(const std::string& what);

}  // namespace kiln::sandbox
