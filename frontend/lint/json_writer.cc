#include "frontend/lint/json_writer.h"

#include <algorithm>

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

void JsonWriter::Quoted(std::string_view s) {
  // Printable ASCII without quotes or backslashes is written as is; anything
  // else goes through nlohmann for its exact escaping (and UTF-8 checks).
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  if (plain) {
    out_ += '"';
    out_ += s;
    out_ += '"';
  } else {
    out_ += nlohmann::json(s).dump();
  }
}

void JsonWriter::String(std::string_view s) {
  BeforeValue();
  Quoted(s);
}

void JsonWriter::Int(long long n) {
  BeforeValue();
  out_ += std::to_string(n);
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
