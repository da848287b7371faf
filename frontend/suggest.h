// "Did you mean ...?" suggestions for misspelt instruction and flag names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

// Edit distance (insert/delete/substitute/swap adjacent, each cost 1),
// case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b);

// The closest candidate to `word` if it is close enough to be a plausible typo
// (distance at most 2 and at most half the word), else nullopt. Ties go to
// the earlier candidate. Returned as spelt in `candidates`.
std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace kiln::frontend
