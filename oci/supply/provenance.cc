#include "oci/supply/provenance.h"

#include <nlohmann/json.hpp>

#include "oci/error.h"
#include "oci/supply/secret_rules/formats.h"
#include "oci/supply/secret_rules/names.h"

namespace kiln::oci {

bool IsSecretBuildArg(const std::string& name, const std::string& value) {
  // A credential's name redacts whatever its value (even an empty default
  // is replaced at build time); any other value is judged by its format.
  return secret_rules::IsSecretName(name) || secret_rules::FirstFormat(value) != nullptr;
}

std::string ProvenanceStatement(const ProvenanceInput& in) {
  using nlohmann::json;
  if (in.image_manifest.empty()) throw Error("provenance: the image manifest digest (subject) is required");
  auto digest_set = [](const Digest& d) { return json{{d.algorithm, d.hex}}; };

  json args = json::object();
  json redacted = json::array();
  for (const auto& [k, v] : in.build_args) {
    if (IsSecretBuildArg(k, v)) redacted.push_back(k);
    else args[k] = v;
  }
  json external = {{"dockerfile", in.dockerfile_path}, {"build-args", args}};
  if (!redacted.empty()) external["redacted-build-args"] = redacted;
  if (!in.target.empty()) external["target"] = in.target;
  if (!in.platforms.empty()) external["platforms"] = in.platforms;

  json deps = json::array();
  for (const auto& b : in.base_images) {
    if (b.digest.empty()) throw Error("provenance: base image " + b.uri + " has no digest");
    json dep = {{"uri", b.uri}, {"digest", digest_set(b.digest)}};
    if (!b.name.empty()) dep["name"] = b.name;
    deps.push_back(std::move(dep));
  }
  if (!in.context_digest.empty()) {
    json dep = {{"uri", in.context_uri}, {"digest", digest_set(in.context_digest)}, {"name", "context"}};
    if (in.context_files >= 0) dep["annotations"] = {{"files", std::to_string(in.context_files)}};
    deps.push_back(std::move(dep));
  }
  if (!in.dockerfile_digest.empty())
    deps.push_back({{"uri", in.context_uri + "/" + in.dockerfile_path}, {"digest", digest_set(in.dockerfile_digest)},
                    {"name", "dockerfile"}});

  json metadata = json::object();
  if (!in.invocation_id.empty()) metadata["invocationId"] = in.invocation_id;
  if (!in.started_on.empty()) metadata["startedOn"] = in.started_on;
  if (!in.finished_on.empty()) metadata["finishedOn"] = in.finished_on;

  json predicate = {
      {"buildDefinition",
       {{"buildType", kKilnBuildType}, {"externalParameters", external}, {"resolvedDependencies", deps},
        {"internalParameters", in.isolation.empty() ? json{{"rootless", true}}
                                                    : json{{"rootless", true}, {"isolation", in.isolation}}}}},
      {"runDetails",
       {{"builder", {{"id", in.builder_id}, {"version", {{"kiln", in.kiln_version}}}}}, {"metadata", metadata}}}};
  json statement = {{"_type", kInTotoStatementType},
                    {"subject", json::array({{{"name", in.image_name.empty() ? in.image_manifest.str() : in.image_name},
                                              {"digest", digest_set(in.image_manifest)}}})},
                    {"predicateType", kSlsaProvenanceV1},
                    {"predicate", predicate}};
  return statement.dump();
}

}  // namespace kiln::oci
