#include "builder/output_spec.h"

#include <optional>
#include <stdexcept>

namespace kiln::builder {

namespace {

bool Truthy(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw std::invalid_argument(key + "=" + v + ": expected true or false");
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

constexpr const char* kForms =
    "type=oci,dest=DIR|FILE.tar|- | type=docker,dest=FILE|- | type=tar,dest=FILE|- | type=local,dest=DIR | "
    "type=image,name=REF[,push=true] | type=registry[,name=REF] | DIR | -";

}  // namespace

std::vector<std::string> SplitCsvFields(const std::string& spec) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const char c = spec[i];
    if (c == '"') {
      if (quoted && i + 1 < spec.size() && spec[i + 1] == '"') {  // "" inside quotes
        cur += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted) throw std::invalid_argument("unterminated quote in '" + spec + "'");
  out.push_back(cur);
  return out;
}

std::map<std::string, std::string> ParseCsvKv(const std::string& spec, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& part : SplitCsvFields(spec)) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument(flag + ": expected key=value, got '" + part + "' in '" + spec + "'");
    out[part.substr(0, eq)] = part.substr(eq + 1);
  }
  return out;
}

OutputSpec ParseOutputSpec(const std::string& spec) {
  OutputSpec o;
  if (spec == "-") {  // buildx: the final filesystem as a tar on stdout
    o.type = "tar";
    o.dest = "-";
    return o;
  }
  if (spec.find('=') == std::string::npos) {  // buildx: a bare path is the local exporter
    if (spec.empty()) throw std::invalid_argument(std::string("empty value; expected ") + kForms);
    o.type = "local";
    o.dest = spec;
    return o;
  }
  auto kv = ParseCsvKv(spec, "--output");
  if (!kv.count("type")) throw std::invalid_argument("'" + spec + "' has no type=; expected " + kForms);
  o.type = kv["type"];
  kv.erase("type");
  if (o.type == "registry") {
    o.type = "image";
    o.push = true;
  }
  if (o.type != "oci" && o.type != "docker" && o.type != "tar" && o.type != "local" && o.type != "image")
    throw std::invalid_argument("type=" + o.type + " is not an output kiln writes; expected " + kForms);
  if (kv.count("dest")) o.dest = kv["dest"], kv.erase("dest");
  if (kv.count("name")) {
    for (const auto& n : SplitCsvFields(kv["name"]))
      if (!n.empty()) o.names.push_back(n);
    kv.erase("name");
  }
  if (kv.count("push")) o.push = Truthy("push", kv["push"]), kv.erase("push");
  std::optional<bool> tar;
  if (kv.count("tar")) tar = Truthy("tar", kv["tar"]), kv.erase("tar");
  // Accepted for buildx compatibility; kiln's image is OCI already and
  // --compression chooses the layers' compression for every output.
  for (const char* noop : {"oci-mediatypes", "unpack", "store"}) kv.erase(noop);
  if (!kv.empty())
    throw std::invalid_argument("type=" + o.type + " does not take " + kv.begin()->first + "= (in '" + spec + "')");

  if (o.type == "image") {
    if (!o.dest.empty()) throw std::invalid_argument("type=image writes to the store or a registry, not dest=" + o.dest);
    return o;
  }
  if (o.dest.empty()) throw std::invalid_argument("type=" + o.type + " needs dest= (a path, or - for stdout)");
  if (o.push) throw std::invalid_argument("push=true is for type=image or type=registry, not type=" + o.type);
  if (o.type == "oci") {
    // A dest named *.tar (or stdout) is an archive, anything else a layout
    // directory, unless tar= says which.
    o.tar = tar.value_or(o.dest == "-" || EndsWith(o.dest, ".tar"));
    if (!o.tar && o.dest == "-") throw std::invalid_argument("type=oci,tar=false cannot write a directory to stdout");
  } else if (tar.has_value() && !(o.type == "docker" && *tar) && !(o.type == "tar" && *tar)) {
    throw std::invalid_argument("tar=" + std::string(*tar ? "true" : "false") + " does not apply to type=" + o.type);
  }
  if (o.type == "local" && o.dest == "-") throw std::invalid_argument("type=local writes a directory; for stdout use type=tar,dest=-");
  if (o.type == "docker" || o.type == "tar") o.tar = true;
  return o;
}

}  // namespace kiln::builder
