#include <malloc.h>

#include "builder/cmd/cli.h"
#include "builder/process_args.h"
#include "sandbox/run.h"

int main(int argc, char** argv) {
  // The sandbox re-executes this binary as its helper; that must win over
  // everything else (no CLI parsing, no threads).
  if (kiln::sandbox::MaybeRunHelper(argc, argv)) return 0;
  // Buffers of 128 KiB and more (layer chunks, gzip members) are mmapped
  // and go back to the kernel when freed. By default glibc raises this
  // threshold each time such a buffer is freed, after which they stay on the
  // heap and in the peak RSS: 4-5 MB on a 20,000-file build.
  ::mallopt(M_MMAP_THRESHOLD, 128 << 10);
  // Two malloc arenas, not eight per core: the threads that copy, hash and
  // compress each kept an arena's worth of freed small blocks (deflate's
  // state, read buffers) resident; their big buffers are mmapped anyway.
  ::mallopt(M_ARENA_MAX, 2);
  // Keep up to 1 MiB free at the top of an arena instead of trimming at
  // 128 KiB: deflate's ~300 KiB of state is allocated and freed once per
  // gzip member, and trimming made each member cost ~60 us of page faults
  // (a layer of small incompressible files has thousands of members).
  ::mallopt(M_TRIM_THRESHOLD, 1 << 20);
  // Grow an arena 1 MiB at a time, not 128 KiB: `kiln lint` of 800 files
  // made ~380 mprotect calls to extend its worker's arena. Untouched pages
  // cost no memory.
  ::mallopt(M_TOP_PAD, 1 << 20);
  kiln::builder::SetProcessArgs(argc, argv);
  return kiln::builder::RunCli(argc, argv);
}
