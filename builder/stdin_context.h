// `kiln build -`, as `docker build -`: stdin holds the build context as a tar
// archive (plain, gzip, bzip2, xz or zstd); anything else on stdin is taken as
// the Dockerfile, with an empty context.
#pragma once

#include <string>

#include "oci/store/store.h"

namespace kiln::builder {

struct StdinContext {
  oci::Store::TempDir dir;   // holds the context; removed with this object
  std::string context_dir;   // the build context
  std::string dockerfile;    // a path to use as -f, "" to keep the caller's
};

// Reads stdin into a temp dir of `store`. `dockerfile` is the caller's -f:
// with a tar it names a file inside the archive (as docker's does). Throws
// builder::Error (and oci::Error for a hostile archive) saying why.
StdinContext ReadStdinContext(const oci::Store& store, const std::string& dockerfile);

}  // namespace kiln::builder
