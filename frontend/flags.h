// Instruction flags (`COPY --from=x`, `RUN --mount=...`): which flags each
// instruction accepts and of what kind, parsing and validating their values,
// BuildKit's `--mount` CSV syntax and HEALTHCHECK durations (Go syntax).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/error.h"
#include "frontend/instructions.h"

namespace kiln::frontend {

enum class FlagKind {
  kString,      // --name=value, at most once
  kBool,        // --name, --name=true|false
  kStringList,  // --name=value, repeatable
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  FlagKind kind;
};

// Flags `keyword` (upper-case, "COPY") accepts; empty for most instructions.
const std::vector<FlagSpec>& FlagsFor(std::string_view keyword);

struct ParsedFlags {
  // name -> values in order; bool flags hold "true" or "false".
  std::map<std::string, std::vector<std::string>> values;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool GetBool(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
};

// Parses node flags ("--from=build", "--link") for `keyword`. Throws Error at
// `where` (column moved to the flag when it is found in `original`) for an
// unknown flag (with a did-you-mean), a flag that belongs to another
// instruction, a missing or non-boolean value, or a repeated single flag.
ParsedFlags ParseFlags(std::string_view keyword, const std::vector<std::string>& flags,
                       const Location& where, std::string_view original = {});

// Expands one word (a --mount field value); may throw std::runtime_error.
using WordExpander = std::function<std::string(const std::string&)>;

// One `--mount` value: CSV fields (a field may be double-quoted, "" escapes a
// quote) of key=value or bare ro/rw/readonly/readwrite/required. Applies
// BuildKit's defaults: bind and secret/ssh mounts read-only unless rw, secret
// id defaults to the target's basename, secret target to /run/secrets/<id>,
// ssh id to "default". An empty or relative target means relative to the
// WORKDIR (resolved by the builder). With `expand` null, values holding '$' that must be
// numbers are left unset for a later expanded parse. Throws std::runtime_error
// (message only) on an unknown key, type, sharing mode or bad number.
MountSpec ParseMount(const std::string& value, const WordExpander* expand = nullptr);

// Go's time.ParseDuration ("1m30s", "1.5h", "300ms", "0") in nanoseconds.
// Throws std::runtime_error on bad syntax.
long long ParseGoDuration(std::string_view text);

// HEALTHCHECK --interval & co: 0 means "inherit the default"; otherwise it must
// be at least 1ms and not negative, as docker requires. Throws std::runtime_error.
long long ParseHealthcheckDuration(const std::string& flag, const std::string& value);

// go-units RAMInBytes ("64m", "1g", "512", "1.5GiB"), 1024-based.
unsigned long long ParseByteSize(std::string_view text);

}  // namespace kiln::frontend
