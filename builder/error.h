// Errors of the build engine, with the context a user needs to act on them:
// what kiln was doing, where (the file, image, flag or stage concerned), why
// it failed and, where there is something to do, what to do about it.
//
//   "build context /src/app: not a directory; pass the directory to build from"
//
// The Dockerfile line is added where it is known: a step's error is wrapped
// into a frontend::Error at the step's instruction (stage_executor.cc), so a
// builder::Error raised inside a step reads "Dockerfile:7: COPY: ...".
#pragma once

#include <stdexcept>
#include <string>

namespace kiln::builder {

struct ErrorContext {
  std::string what;        // the operation: "build context", "--ssh default: ssh-agent"
  std::string where{};     // the file, image or value concerned, printed after `what`
  std::string why{};       // the cause: errno text, "not a directory"
  std::string to_do{};     // what the user can do, when there is something
};

class Error : public std::runtime_error {
 public:
  // The message is "what[ where][: why][; to_do]".
  explicit Error(ErrorContext context);
  const ErrorContext& context() const { return context_; }

 private:
  ErrorContext context_;
};

// Throws Error{what, where, strerror(errno), to_do}.
[[noreturn]] void ThrowErrno(std::string what, std::string where, std::string to_do = {});

}  // namespace kiln::builder
