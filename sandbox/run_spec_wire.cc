#include "sandbox/run_spec_wire.h"

#include <nlohmann/json.hpp>

#include "sandbox/error.h"
#include "sandbox/isolation_level.h"

namespace kiln::sandbox {

std::string SpecToJson(const RunSpec& spec) {
  nlohmann::json j;
  j["rootfs"] = spec.rootfs.string();
  j["argv"] = spec.argv;
  j["env"] = spec.env;
  j["cwd"] = spec.cwd;
  j["uid"] = spec.uid;
  j["gid"] = spec.gid;
  j["groups"] = spec.groups;
  j["hostname"] = spec.hostname;
  j["network"] = spec.network == Network::kNone ? "none" : "host";
  j["isolation"] = CurrentIsolation().Serialize();
  j["mounts"] = nlohmann::json::array();
  for (const auto& m : spec.mounts) {
    j["mounts"].push_back({{"type", m.type == Mount::Type::kTmpfs ? "tmpfs" : "bind"},
                           {"source", m.source.string()},
                           {"target", m.target},
                           {"readonly", m.readonly},
                           {"tmpfs_size", m.tmpfs_size},
                           {"mode", m.mode}});
  }
  j["extra_hosts"] = spec.extra_hosts;
  j["rlimits"] = nlohmann::json::array();
  for (const auto& r : spec.rlimits) j["rlimits"].push_back({r.resource, r.soft, r.hard});
  j["shm_size"] = spec.shm_size;
  if (spec.emulation)
    j["emulation"] = {{"native", spec.emulation->native}, {"handler", spec.emulation->handler},
                      {"interpreter", spec.emulation->interpreter}, {"fix_binary", spec.emulation->fix_binary}};
  return j.dump();
}

RunSpec SpecFromJson(const std::string& text) {
  RunSpec spec;
  try {
    auto j = nlohmann::json::parse(text);
    spec.rootfs = j.at("rootfs").get<std::string>();
    spec.argv = j.at("argv").get<std::vector<std::string>>();
    spec.env = j.at("env").get<std::vector<std::string>>();
    spec.cwd = j.at("cwd").get<std::string>();
    spec.uid = j.at("uid").get<uint32_t>();
    spec.gid = j.at("gid").get<uint32_t>();
    spec.groups = j.at("groups").get<std::vector<uint32_t>>();
    spec.hostname = j.at("hostname").get<std::string>();
    spec.network = j.at("network") == "none" ? Network::kNone : Network::kHost;
    for (const auto& m : j.at("mounts")) {
      Mount mount;
      mount.type = m.at("type") == "tmpfs" ? Mount::Type::kTmpfs : Mount::Type::kBind;
      mount.source = m.at("source").get<std::string>();
      mount.target = m.at("target").get<std::string>();
      mount.readonly = m.at("readonly").get<bool>();
      mount.tmpfs_size = m.at("tmpfs_size").get<uint64_t>();
      mount.mode = m.at("mode").get<unsigned>();
      spec.mounts.push_back(std::move(mount));
    }
    spec.extra_hosts = j.at("extra_hosts").get<std::vector<std::pair<std::string, std::string>>>();
    for (const auto& r : j.at("rlimits"))
      spec.rlimits.push_back({r.at(0).get<int>(), r.at(1).get<uint64_t>(), r.at(2).get<uint64_t>()});
    spec.shm_size = j.at("shm_size").get<uint64_t>();
    if (j.contains("emulation")) {
      const auto& e = j.at("emulation");
      spec.emulation = Emulation{e.at("native").get<bool>(), e.at("handler").get<std::string>(),
                                 e.at("interpreter").get<std::string>(), e.at("fix_binary").get<bool>()};
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed sandbox spec: ") + e.what());
  }
  return spec;
}

}  // namespace kiln::sandbox
