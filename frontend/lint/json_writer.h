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
  // Writes one value as it appears `depth` levels deep in a document (its
  // lines indented to match), starting at its first character; Raw() puts
  // such a value into the document. This lets parts be formatted apart.
  JsonWriter(std::string& out, size_t depth) : out_(out), empty_(depth, false), after_key_(true) {}

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
  // A value formatted beforehand by a JsonWriter(out, depth) at this depth.
  void Raw(std::string_view formatted);

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
