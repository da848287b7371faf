// The floor under any one-process linter on this machine: read every file
// named on the command line, on as many threads as `kiln lint` uses, the way
// kiln reads them (open, fstat, read to the size, close), and do nothing
// else. bench/harness.py times it beside kiln lint; built a second time
// against kiln's shared libraries it is also the floor under kiln itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  std::atomic<int> next{1};
  std::atomic<long> failed{0};
  auto worker = [&] {
    std::string text;
    for (int i; (i = next++) < argc;) {
      const int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat(fd, &st) != 0) {
        ++failed;
        if (fd >= 0) close(fd);
        continue;
      }
      text.resize(static_cast<size_t>(st.st_size));
      if (read(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ++failed;
      close(fd);
    }
  };
  // Same thread count as kiln's ParallelFor: the cores, 1 to 8.
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
  }
  if (failed) std::fprintf(stderr, "read_files: %ld file(s) could not be read\n", failed.load());
  return failed ? 1 : 0;
}
