// `kiln build -o/--output` as `docker buildx build` takes it: CSV key=value
// pairs ("type=oci,dest=app.tar"), a bare path (the local exporter) or "-"
// (type=tar to stdout). Parsed here, exported by builder/export_outputs.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "builder/build_options.h"

namespace kiln::builder {

// Splits buildx-style CSV ("a=1,\"name=x,y\"") into fields; a double-quoted
// field may hold commas, as in buildx's csvvalue.
std::vector<std::string> SplitCsvFields(const std::string& spec);

// Parses one -o value. Throws std::invalid_argument with what is wrong and
// the forms that are accepted.
OutputSpec ParseOutputSpec(const std::string& spec);

// Key=value pairs of a CSV spec ("id=x,src=y"), for --secret, --ssh, --attest.
// Throws std::invalid_argument naming `flag` for a field without '='.
std::map<std::string, std::string> ParseCsvKv(const std::string& spec, const std::string& flag);

}  // namespace kiln::builder
