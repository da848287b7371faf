// `kiln fsck` and `kiln prune` over oci::Store; the build cache's layers are
// GC roots. Both enter the build namespace because a rootless store holds
// files owned by subordinate ids that only namespace-root may delete.
#include <CLI/CLI.hpp>

#include <iostream>
#include <set>

#include "builder/builder.h"
#include "builder/cmd/commands.h"
#include "builder/process_args.h"
#include "builder/step_cache.h"
#include "oci/store/store.h"
#include "sandbox/userns.h"

namespace kiln::builder {

void AddStoreCommands(CLI::App& app) {
  auto remove = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  auto* fsck = app.add_subcommand("fsck", "Check the local store for corrupt or orphaned blobs");
  fsck->add_flag("--remove", *remove, "Delete corrupt and orphaned blobs (and corrupt unpacked layers)");
  fsck->add_flag("--full", *full,
                 "Also re-read every unpacked layer and compare it with the digest recorded when it was unpacked");
  fsck->callback([remove, full] {
    // --full reads files owned by subordinate ids, and their ids must be
    // seen as when the digest was recorded: from inside the namespace.
    if (*remove || *full) sandbox::EnterBuildNamespace(ProcessArgc(), ProcessArgv());
    oci::Store store(oci::Store::DefaultRoot());
    const auto roots = StepCache(store).Roots();
    const auto r = store.Fsck(*remove, roots, *full);
    for (const auto& d : r.corrupt) std::cout << "corrupt: " << d.str() << "\n";
    for (const auto& d : r.corrupt_layers) std::cout << "corrupt unpacked layer: " << d.str() << "\n";
    for (const auto& d : r.orphaned) std::cout << "orphaned: " << d.str() << "\n";
    // Which tagged images the damage reaches (blobs and unpacked layers alike).
    std::set<oci::Digest> bad(r.corrupt.begin(), r.corrupt.end());
    bad.insert(r.corrupt_layers.begin(), r.corrupt_layers.end());
    if (!bad.empty()) {
      for (const auto& [tag, desc] : store.ListTags()) {
        for (const auto& d : store.Reachable(desc)) {
          if (!bad.count(d)) continue;
          std::cout << "affected image: " << tag << " (" << d.str() << ")\n";
          break;
        }
      }
    }
    std::cout << r.corrupt.size() << " corrupt, " << r.orphaned.size() << " orphaned";
    if (*full) {
      std::cout << ", " << r.corrupt_layers.size() << " corrupt unpacked layers";
      if (r.unrecorded_layers > 0) std::cout << " (" << r.unrecorded_layers << " unpacked before digests were recorded, not checked)";
    }
    std::cout << (*remove ? " (removed)" : "") << "\n";
    if ((!r.corrupt.empty() || !r.corrupt_layers.empty()) && !*remove) throw ExitCode{1};
  });
  auto* prune = app.add_subcommand("prune", "Remove what no tag or cache entry reaches");
  auto all = std::make_shared<bool>(false);
  prune->add_flag("-a,--all", *all, "Also drop the build cache");
  prune->callback([all] {
    sandbox::EnterBuildNamespace(ProcessArgc(), ProcessArgv());
    oci::Store store(oci::Store::DefaultRoot());
    StepCache cache(store);
    if (*all) {
      std::error_code ec;
      std::filesystem::remove_all(cache.dir(), ec);
      std::filesystem::create_directories(cache.dir(), ec);
      std::filesystem::remove_all(store.Path("cache/finalize"), ec);  // see finalize_memo.h
      std::filesystem::remove_all(store.Path("cache/lineage"), ec);   // see layer_lineage.h
    }
    const auto r = store.Prune(cache.Roots());
    std::cout << "removed " << r.blobs_removed << " blobs and " << r.layer_dirs_removed
              << " unpacked layers, freed " << HumanSize(r.bytes_freed) << "\n";
  });
}

}  // namespace kiln::builder
