#include "builder/error.h"

#include <cerrno>
#include <cstring>
#include <utility>

namespace kiln::builder {
namespace {

std::string Format(const ErrorContext& c) {
  std::string text = c.what;
  if (!c.where.empty()) text += (text.empty() ? "" : " ") + c.where;
  if (!c.why.empty()) text += (text.empty() ? "" : ": ") + c.why;
  if (!c.to_do.empty()) text += "; " + c.to_do;
  return text;
}

}  // namespace

Error::Error(ErrorContext context) : std::runtime_error(Format(context)), context_(std::move(context)) {}

void ThrowErrno(std::string what, std::string where, std::string to_do) {
  throw Error({std::move(what), std::move(where), std::strerror(errno), std::move(to_do)});
}

}  // namespace kiln::builder
