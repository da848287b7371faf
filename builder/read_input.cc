#include "builder/read_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "builder/error.h"
#include "sandbox/file_io.h"

namespace kiln::builder {

std::string ReadDockerfileText(const std::string& path) {
  try {
    return ReadInputFile(path);
  } catch (const std::exception& e) {
    throw Error({"Dockerfile", "", e.what()});
  }
}

std::string ReadInputFile(const std::string& path) {
  auto fail = [&] { return Error({"cannot read", path, std::strerror(errno)}); };
  auto too_big = [&] {
    return Error({"cannot read", path, "larger than " + std::to_string(kMaxInputFile >> 20) + " MiB, which no Dockerfile is",
                  "check that -f names the Dockerfile"});
  };
  // Plain read(2) into a string sized by fstat: `kiln lint` reads hundreds of
  // Dockerfiles, and an ifstream's buffer and locale setup cost more than the
  // read itself.
  sandbox::UniqueFd opened;
  if (path != "-") opened = sandbox::UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fdno = path == "-" ? STDIN_FILENO : opened.get();
  struct stat st {};
  if (fdno < 0 || ::fstat(fdno, &st) != 0) throw fail();
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    throw fail();
  }
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > kMaxInputFile) throw too_big();
  // A regular file is read to the size fstat gave (a file growing meanwhile
  // is read as it was), without a read(2) to see EOF; anything else (a pipe,
  // /proc) to EOF, as is stdin (which may not start at offset 0).
  const size_t expected = S_ISREG(st.st_mode) && path != "-" ? static_cast<size_t>(st.st_size) : 0;
  std::string data(expected, '\0');
  size_t have = 0;
  char chunk[4096];
  while (expected == 0 || have < expected) {
    const bool past = have == data.size();
    if (have > kMaxInputFile) throw too_big();
    ssize_t n = past ? ::read(fdno, chunk, sizeof chunk) : ::read(fdno, data.data() + have, data.size() - have);
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
