// Errors raised by the frontend always carry the place in the Dockerfile they
// refer to, so the user sees `Dockerfile:12:5: message` and can click it.
#pragma once

#include <stdexcept>
#include <string>

namespace kiln::frontend {

struct Location {
  std::string file;      // as the user named it ("Dockerfile", "-" for stdin)
  int line = 0;          // 1-based; 0 when the error is about the whole file
  int column = 0;        // 1-based; 0 when unknown
  int end_line = 0;      // last line of the instruction (continuations, heredocs)

  std::string str() const;  // "file:line:col", "file:line" or "file"
};

class Error : public std::runtime_error {
 public:
  Error(Location where, const std::string& message);
  const Location& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  Location where_;
  std::string message_;
};

}  // namespace kiln::frontend
