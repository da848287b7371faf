// Streams JSON in exactly the layout of nlohmann::json::dump(2), so the lint
// reports (thousands of findings) are written straight into a string instead
// of being built as a DOM first. Object keys are written in the order given:
// callers give them sorted, as nlohmann's std::map-backed objects are.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend::lint {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  // The next value is this member of the enclosing object.
  void Key(std::string_view key);
  void String(std::string_view s);
  void Int(long long n);
  // A value built with nlohmann (small, rarely written parts), indented to fit.
  void Value(const nlohmann::json& value);

 private:
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);
  void Newline();
  void Quoted(std::string_view s);

  std::string& out_;
  std::vector<bool> empty_;  // per open object/array: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace kiln::frontend::lint
