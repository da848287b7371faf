// Secret token FORMATS: the one list of formats a literal secret comes in
// (private key blocks, cloud and SaaS tokens, JWTs, URLs with a password),
// each with its id, description and one hand-written linear-time matcher.
// The linter (KL003) reports the first format in a Dockerfile instruction;
// the layer scanner reports every match in an image's files and history.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string_view>

namespace kiln::secret_rules {

struct Format {
  std::string_view id;           // stable, e.g. "aws-access-key-id" (scan allowlists use it)
  std::string_view description;  // e.g. "AWS access key id"
};

// Every format, most telling first (the order FirstFormat prefers).
std::span<const Format> Formats();

struct FormatHit {
  const Format* format;
  size_t offset;  // where the match starts in the scanned text
  size_t length;  // bytes of the match (the token, or the key block's header)
};

// Calls `on_hit` for each match in `text`, in text order, in one pass;
// stops early when it returns false. No allocation.
void FindFormats(std::string_view text, const std::function<bool(const FormatHit&)>& on_hit);

// The most telling format found in `text`, or nullptr.
const Format* FirstFormat(std::string_view text);

}  // namespace kiln::secret_rules
