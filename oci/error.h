#pragma once

#include <stdexcept>
#include <string>

namespace kiln::oci {

// Anything that goes wrong with images as data: the store, layers, formats,
// registries. The message says what, where and why ("push localhost:5000/a:
// PUT manifest: 400 MANIFEST_INVALID: ...").
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// errno-carrying variant: "open /x/y: No such file or directory".
[[noreturn]] void ThrowErrno(const std::string& what);

}  // namespace kiln::oci
