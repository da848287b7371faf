#include "builder/read_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "sandbox/file_io.h"

namespace kiln::builder {

std::string ReadInputFile(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  auto fail = [&] { return std::runtime_error("cannot read " + path + ": " + std::strerror(errno)); };
  // Plain read(2) into a string sized by fstat: `kiln lint` reads hundreds of
  // Dockerfiles, and an ifstream's buffer and locale setup cost more than the
  // read itself.
  sandbox::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) throw fail();
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    throw fail();
  }
  // A regular file is read to the size fstat gave (a file growing meanwhile
  // is read as it was), without a read(2) to see EOF; anything else (a pipe,
  // /proc) to EOF.
  const size_t expected = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0;
  std::string data(expected, '\0');
  size_t have = 0;
  char chunk[4096];
  while (expected == 0 || have < expected) {
    const bool past = have == data.size();
    ssize_t n = past ? ::read(fd.get(), chunk, sizeof chunk) : ::read(fd.get(), data.data() + have, data.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail();
    }
    if (n == 0) break;
    if (past) data.append(chunk, static_cast<size_t>(n));
    have += static_cast<size_t>(n);
  }
  data.resize(have);
  return data;
}

}  // namespace kiln::builder
