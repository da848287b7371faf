#include "oci/image.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "oci/error.h"

namespace kiln::oci {

using nlohmann::json;

std::string Rfc3339(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (!gmtime_r(&t, &tm)) throw Error("rfc3339: time " + std::to_string(unix_seconds) + " out of range");
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// ---- writing ----

json StrMap(const std::map<std::string, std::string>& m) {
  json j = json::object();
  for (auto& [k, v] : m) j[k] = v;
  return j;
}

json SetObj(const std::set<std::string>& s) {
  json j = json::object();
  for (auto& k : s) j[k] = json::object();
  return j;
}

json DescJson(const Descriptor& d) {
  json j;
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = StrMap(d.annotations);
  if (d.platform) {
    json p;
    p["os"] = d.platform->os;
    p["architecture"] = d.platform->architecture;
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    j["platform"] = p;
  }
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  return j;
}

json ContainerConfigJson(const ContainerConfig& c) {
  json j = json::object();
  if (!c.user.empty()) j["User"] = c.user;
  if (!c.exposed_ports.empty()) j["ExposedPorts"] = SetObj(c.exposed_ports);
  if (!c.env.empty()) j["Env"] = c.env;
  if (c.entrypoint) j["Entrypoint"] = *c.entrypoint;
  if (c.cmd) j["Cmd"] = *c.cmd;
  if (!c.volumes.empty()) j["Volumes"] = SetObj(c.volumes);
  if (!c.working_dir.empty()) j["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) j["Labels"] = StrMap(c.labels);
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.healthcheck) {
    const auto& h = *c.healthcheck;
    json hj;
    hj["Test"] = h.test;
    if (h.interval) hj["Interval"] = h.interval;
    if (h.timeout) hj["Timeout"] = h.timeout;
    if (h.start_period) hj["StartPeriod"] = h.start_period;
    if (h.start_interval) hj["StartInterval"] = h.start_interval;
    if (h.retries) hj["Retries"] = h.retries;
    j["Healthcheck"] = hj;
  }
  if (!c.shell.empty()) j["Shell"] = c.shell;
  if (!c.on_build.empty()) j["OnBuild"] = c.on_build;
  return j;
}

// ---- parsing ----

json Load(std::string_view text, const char* what) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw Error(std::string("parse ") + what + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw Error(std::string("parse ") + what + ": " + e.what());
  }
}

std::string Str(const json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(std::string("parse ") + what + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

std::vector<std::string> StrList(const json& j, const char* key, const char* what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw Error(std::string("parse ") + what + ": \"" + key + "\" is not an array");
  for (auto& e : *it) {
    if (!e.is_string()) throw Error(std::string("parse ") + what + ": \"" + key + "\" has a non-string element");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> StrMapOf(const json& j, const char* key, const char* what) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw Error(std::string("parse ") + what + ": \"" + key + "\" is not an object");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) throw Error(std::string("parse ") + what + ": \"" + key + "." + k + "\" is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

std::set<std::string> KeySet(const json& j, const char* key, const char* what) {
  std::set<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw Error(std::string("parse ") + what + ": \"" + key + "\" is not an object");
  for (auto& [k, v] : it->items()) out.insert(k);
  return out;
}

int64_t Int(const json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) throw Error(std::string("parse ") + what + ": \"" + key + "\" is not an integer");
  return it->get<int64_t>();
}

Descriptor ParseDesc(const json& j, const char* what) {
  if (!j.is_object()) throw Error(std::string("parse ") + what + ": descriptor is not an object");
  Descriptor d;
  d.media_type = Str(j, "mediaType", what);
  auto dg = Str(j, "digest", what);
  if (dg.empty()) throw Error(std::string("parse ") + what + ": descriptor without digest");
  d.digest = Digest::Parse(dg);
  d.size = Int(j, "size", what);
  if (d.size < 0) throw Error(std::string("parse ") + what + ": negative size for " + dg);
  d.annotations = StrMapOf(j, "annotations", what);
  d.artifact_type = Str(j, "artifactType", what);
  if (auto it = j.find("platform"); it != j.end() && it->is_object()) {
    Platform p;
    p.os = Str(*it, "os", what);
    p.architecture = Str(*it, "architecture", what);
    p.variant = Str(*it, "variant", what);
    d.platform = p;
  }
  return d;
}

std::optional<std::vector<std::string>> OptList(const json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return StrList(j, key, what);
}

}  // namespace

std::string DescriptorToJson(const Descriptor& d) { return DescJson(d).dump(); }

std::string ToJson(const ImageConfig& c) {
  json j;
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.variant.empty()) j["variant"] = c.variant;
  j["config"] = ContainerConfigJson(c.config);
  json ids = json::array();
  for (auto& d : c.diff_ids) ids.push_back(d.str());
  j["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  if (!c.history.empty()) {
    json h = json::array();
    for (auto& e : c.history) {
      json hj = json::object();
      if (!e.created.empty()) hj["created"] = e.created;
      if (!e.created_by.empty()) hj["created_by"] = e.created_by;
      if (!e.author.empty()) hj["author"] = e.author;
      if (!e.comment.empty()) hj["comment"] = e.comment;
      if (e.empty_layer) hj["empty_layer"] = true;
      h.push_back(hj);
    }
    j["history"] = h;
  }
  return j.dump();
}

std::string ToJson(const Manifest& m) {
  json j;
  j["schemaVersion"] = 2;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = DescJson(m.config);
  json layers = json::array();
  for (auto& l : m.layers) layers.push_back(DescJson(l));
  j["layers"] = layers;
  if (m.subject) j["subject"] = DescJson(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = StrMap(m.annotations);
  return j.dump();
}

std::string ToJson(const Index& x) {
  json j;
  j["schemaVersion"] = 2;
  if (!x.media_type.empty()) j["mediaType"] = x.media_type;
  json ms = json::array();
  for (auto& m : x.manifests) ms.push_back(DescJson(m));
  j["manifests"] = ms;
  if (!x.annotations.empty()) j["annotations"] = StrMap(x.annotations);
  return j.dump();
}

ImageConfig ParseImageConfig(std::string_view text) {
  const char* what = "image config";
  json j = Load(text, what);
  ImageConfig c;
  c.created = Str(j, "created", what);
  c.author = Str(j, "author", what);
  c.architecture = Str(j, "architecture", what);
  c.os = Str(j, "os", what);
  c.variant = Str(j, "variant", what);
  if (auto it = j.find("config"); it != j.end() && it->is_object()) {
    const json& cj = *it;
    auto& cc = c.config;
    cc.user = Str(cj, "User", what);
    cc.exposed_ports = KeySet(cj, "ExposedPorts", what);
    cc.env = StrList(cj, "Env", what);
    cc.entrypoint = OptList(cj, "Entrypoint", what);
    cc.cmd = OptList(cj, "Cmd", what);
    cc.volumes = KeySet(cj, "Volumes", what);
    cc.working_dir = Str(cj, "WorkingDir", what);
    cc.labels = StrMapOf(cj, "Labels", what);
    cc.stop_signal = Str(cj, "StopSignal", what);
    if (auto h = cj.find("Healthcheck"); h != cj.end() && h->is_object()) {
      Healthcheck hc;
      hc.test = StrList(*h, "Test", what);
      hc.interval = Int(*h, "Interval", what);
      hc.timeout = Int(*h, "Timeout", what);
      hc.start_period = Int(*h, "StartPeriod", what);
      hc.start_interval = Int(*h, "StartInterval", what);
      hc.retries = static_cast<int>(Int(*h, "Retries", what));
      cc.healthcheck = hc;
    }
    cc.shell = StrList(cj, "Shell", what);
    cc.on_build = StrList(cj, "OnBuild", what);
  }
  if (auto it = j.find("rootfs"); it != j.end() && it->is_object()) {
    for (auto& s : StrList(*it, "diff_ids", what)) c.diff_ids.push_back(Digest::Parse(s));
  }
  if (auto it = j.find("history"); it != j.end() && it->is_array()) {
    for (auto& hj : *it) {
      if (!hj.is_object()) throw Error("parse image config: history entry is not an object");
      History h;
      h.created = Str(hj, "created", what);
      h.created_by = Str(hj, "created_by", what);
      h.author = Str(hj, "author", what);
      h.comment = Str(hj, "comment", what);
      if (auto e = hj.find("empty_layer"); e != hj.end() && e->is_boolean()) h.empty_layer = e->get<bool>();
      c.history.push_back(h);
    }
  }
  return c;
}

Manifest ParseManifest(std::string_view text) {
  const char* what = "manifest";
  json j = Load(text, what);
  if (Int(j, "schemaVersion", what) != 2) throw Error("parse manifest: schemaVersion is not 2");
  Manifest m;
  m.media_type = Str(j, "mediaType", what);
  if (m.media_type == media::kOciIndex || m.media_type == media::kDockerManifestList || j.contains("manifests"))
    throw Error("parse manifest: got an index/manifest list (" + m.media_type + ")");
  if (m.media_type.empty()) m.media_type = media::kOciManifest;  // OCI allows omitting it
  m.artifact_type = Str(j, "artifactType", what);
  auto cfg = j.find("config");
  if (cfg == j.end()) throw Error("parse manifest: no config descriptor");
  m.config = ParseDesc(*cfg, what);
  if (auto it = j.find("layers"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw Error("parse manifest: \"layers\" is not an array");
    for (auto& l : *it) m.layers.push_back(ParseDesc(l, what));
  }
  if (auto it = j.find("subject"); it != j.end() && !it->is_null()) m.subject = ParseDesc(*it, what);
  m.annotations = StrMapOf(j, "annotations", what);
  return m;
}

Index ParseIndex(std::string_view text) {
  const char* what = "index";
  json j = Load(text, what);
  if (Int(j, "schemaVersion", what) != 2) throw Error("parse index: schemaVersion is not 2");
  Index x;
  x.media_type = Str(j, "mediaType", what);
  if (x.media_type.empty()) x.media_type = media::kOciIndex;
  if (x.media_type != media::kOciIndex && x.media_type != media::kDockerManifestList)
    throw Error("parse index: unexpected mediaType " + x.media_type);
  auto it = j.find("manifests");
  if (it == j.end() || !it->is_array()) throw Error("parse index: no \"manifests\" array");
  for (auto& m : *it) x.manifests.push_back(ParseDesc(m, what));
  x.annotations = StrMapOf(j, "annotations", what);
  return x;
}

}  // namespace kiln::oci
