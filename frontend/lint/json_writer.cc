#include "frontend/lint/json_writer.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace kiln::frontend::lint {

void JsonWriter::Newline() {
  out_ += '\n';
  out_.append(2 * empty_.size(), ' ');
}

// Inside an array a value starts a new line; after a key it follows ": ".
void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (empty_.empty()) return;
  if (!empty_.back()) out_ += ',';
  empty_.back() = false;
  Newline();
}

void JsonWriter::Key(std::string_view key) {
  if (!empty_.back()) out_ += ',';
  empty_.back() = false;
  Newline();
  Quoted(key);
  out_ += ": ";
  after_key_ = true;
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  out_ += bracket;
  empty_.push_back(true);
}

void JsonWriter::Close(char bracket) {
  const bool empty = empty_.back();
  empty_.pop_back();
  if (!empty) Newline();
  out_ += bracket;
}

namespace {
// 0: copied as is; 1: escaped with a backslash; 2: anything else (control
// characters, non-ASCII), left to nlohmann.
constexpr auto kEscape = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c >= 0x7f ? 2 : 0;
  t['"'] = t['\\'] = 1;
  return t;
}();
}  // namespace

void JsonWriter::Quoted(std::string_view s) {
  // Printable ASCII is copied in runs, with `"` and `\` escaped as nlohmann
  // does; a string with control characters or non-ASCII text goes through
  // nlohmann instead, for its exact escaping (and its UTF-8 checks).
  const size_t start = out_.size();
  out_ += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char kind = kEscape[static_cast<unsigned char>(s[i])];
    if (kind == 0) continue;
    if (kind == 2) {
      out_.resize(start);
      out_ += nlohmann::json(s).dump();
      return;
    }
    out_.append(s.substr(run, i - run));
    out_ += '\\';
    out_ += s[i];
    run = i + 1;
  }
  out_.append(s.substr(run));
  out_ += '"';
}

void JsonWriter::Raw(std::string_view formatted) {
  BeforeValue();
  out_ += formatted;
}

void JsonWriter::String(std::string_view s) {
  BeforeValue();
  Quoted(s);
}

void JsonWriter::Int(long long n) {
  BeforeValue();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

void JsonWriter::Value(const nlohmann::json& value) {
  BeforeValue();
  // dump(2) starts at indent 0; JSON strings hold no raw newlines, so every
  // newline in it is layout and gets the current indent added.
  const std::string text = value.dump(2);
  const std::string indent(2 * empty_.size(), ' ');
  for (char c : text) {
    out_ += c;
    if (c == '\n') out_ += indent;
  }
}

}  // namespace kiln::frontend::lint
