// The shell patterns of ${V#p}, ${V%p} and ${V/p/r}: `*` any run, `?` one
// character (neither crosses a newline, as in BuildKit's Go regexps), `\`
// escapes `*`, `?`, `\` and is dropped before `}` and `/`. Matching follows
// Go regexp's leftmost-first preference: greedy `.*` for ##, %% and /,
// lazy `.*?` for # and %. Throws std::invalid_argument on a bad escape.
#pragma once

#include <string>
#include <string_view>

namespace kiln::frontend {

std::string TrimShellPrefix(std::string_view pattern, std::string_view value, bool greedy);
std::string TrimShellSuffix(std::string_view pattern, std::string_view value, bool greedy);
std::string ReplaceShellPattern(std::string_view value, std::string_view pattern,
                                std::string_view replacement, bool all);

}  // namespace kiln::frontend
