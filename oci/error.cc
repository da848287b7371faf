#include "oci/error.h"

#include <cerrno>
#include <cstring>

namespace kiln::oci {

void ThrowErrno(const std::string& what) {
  throw Error(what + ": " + std::strerror(errno));
}

}  // namespace kiln::oci
