// JsonWriter must write what nlohmann::json::dump(2) writes for the same
// document, byte for byte: the lint reports changed from one to the other.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/lint/json_writer.h"

namespace kiln::frontend::lint {
namespace {

TEST(JsonWriter, SameBytesAsNlohmannDump) {
  const nlohmann::json doc = {{"a", nlohmann::json::array()},
                              {"b", nlohmann::json::object()},
                              {"c", {1, -2, "x"}},
                              {"d", {{"e", "quote \" backslash \\ tab \t nl \n ctl \x01 del \x7f"}, {"f", "ünïcode ✓"}}},
                              {"g", {{{"h", {nlohmann::json::array(), nlohmann::json::object()}}}}},
                              {"i", "say \"hi\" to C:\\dir\\"}};
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("a");
  w.BeginArray();
  w.EndArray();
  w.Key("b");
  w.BeginObject();
  w.EndObject();
  w.Key("c");
  w.BeginArray();
  w.Int(1);
  w.Int(-2);
  w.String("x");
  w.EndArray();
  w.Key("d");
  w.BeginObject();
  w.Key("e");
  w.String(doc["d"]["e"].get<std::string>());
  w.Key("f");
  w.String(doc["d"]["f"].get<std::string>());
  w.EndObject();
  w.Key("g");
  w.Value(doc["g"]);
  w.Key("i");
  w.String(doc["i"].get<std::string>());
  w.EndObject();
  EXPECT_EQ(out, doc.dump(2));
}

// Values formatted apart at their depth (as `kiln lint` does per file, on
// its worker threads) and put in with Raw() give the same document.
TEST(JsonWriter, PartsFormattedApartAtTheirDepth) {
  const nlohmann::json doc = {{"files", {{{"f", "a"}, {"n", {1, 2}}}, {{"f", "b"}, {"n", nlohmann::json::array()}}}},
                              {"v", 1}};
  std::vector<std::string> parts;
  for (const auto& file : doc["files"]) {
    std::string part;
    JsonWriter w(part, 2);
    w.Value(file);
    parts.push_back(part);
  }
  EXPECT_EQ(parts[1], "{\n      \"f\": \"b\",\n      \"n\": []\n    }");
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("files");
  w.BeginArray();
  for (const auto& p : parts) w.Raw(p);
  w.EndArray();
  w.Key("v");
  w.Int(1);
  w.EndObject();
  EXPECT_EQ(out, doc.dump(2));
}

TEST(JsonWriter, InvalidUtf8ThrowsLikeNlohmann) {
  std::string out;
  JsonWriter w(out);
  EXPECT_THROW(w.String("\xff"), nlohmann::json::type_error);
}

}  // namespace
}  // namespace kiln::frontend::lint
