// `kiln pull IMAGE`: fetch into the local store and tag it.
#include <CLI/CLI.hpp>

#include <functional>
#include <tuple>
#include <iostream>

#include "builder/base_image.h"
#include "builder/cmd/commands.h"
#include "oci/reference.h"
#include "oci/registry/registry.h"
#include "oci/store/store.h"
#include "oci/registry/registries_conf.h"

namespace kiln::builder {

void AddPullCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("pull", "Pull an image into the local store");
  auto name = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("IMAGE", *name, "Image reference")->required();
  cmd->add_flag("--insecure", *insecure, "Allow plain HTTP / unverified TLS");
  cmd->add_flag("-q,--quiet", *quiet, "Print only the digest");
  auto all_platforms = std::make_shared<bool>(false);
  cmd->add_flag("--all-platforms", *all_platforms,
                "Pull a multi-platform image whole: its index and every platform's manifest (as skopeo copy --all); "
                "the tag names the index");
  auto mirrors = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--registry-mirror", *mirrors, "Pull through this mirror: URL (of docker.io) or REGISTRY=URL (repeatable)")
      ->allow_extra_args(false);
  cmd->callback([name, insecure, quiet, mirrors, all_platforms] {
    oci::Store store(oci::Store::DefaultRoot());
    oci::Store::Lock lock(store, false);
    oci::RegistriesConf conf = oci::RegistriesConf::Load();
    for (const auto& m : *mirrors) conf.AddMirror(m);
    oci::RegistryOptions ro;
    ro.AllowInsecure(*insecure);
    auto say = [](const std::string& s) { std::cerr << s << "\n"; };
    if (!*quiet) ro.progress = say;
    oci::TransferStats stats;
    oci::Reference ref;
    oci::Descriptor d;
    if (*all_platforms) {
      // From the registry itself (the last source; blocked/location/insecure
      // of registries.conf apply): a mirror may hold only some platforms.
      ref = oci::Reference::Parse(conf.Candidates(*name).front());
      const oci::PullSource source = conf.PullSources(ref).back();
      if (source.insecure) ro.AllowInsecure(true);
      d = oci::RegistryClient(ro).PullAllPlatforms(source.ref, store, &stats);
    } else {
      std::tie(ref, d) = oci::PullFirst(conf, conf.Candidates(*name), store, oci::Platform::Host(), ro, &stats,
                                        *quiet ? std::function<void(const std::string&)>() : say);
    }
    if (ref.digest.empty()) store.SetTag(ref.familiar(), d);
    if (*quiet) std::cout << d.digest.str() << "\n";
    else std::cout << ref.familiar() << ": " << d.digest.str() << " (" << stats.blobs_downloaded << " blobs downloaded)\n";
  });
}

}  // namespace kiln::builder
