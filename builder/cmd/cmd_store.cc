// `kiln fsck` and `kiln prune` over oci::Store; the build cache's layers are
// GC roots. Both enter the build namespace because a rootless store holds
// files owned by subordinate ids that only namespace-root may delete.
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/builder.h"
#include "builder/cmd/commands.h"
#include "builder/process_args.h"
#include "builder/step_cache.h"
#include "oci/store/store.h"
#include "sandbox/userns.h"

namespace kiln::builder {

void AddStoreCommands(CLI::App& app) {
  auto remove = std::make_shared<bool>(false);
  auto* fsck = app.add_subcommand("fsck", "Check the local store for corrupt or orphaned blobs");
  fsck->add_flag("--remove", *remove, "Delete corrupt and orphaned blobs");
  fsck->callback([remove] {
    if (*remove) sandbox::EnterBuildNamespace(ProcessArgc(), ProcessArgv());
    oci::Store store(oci::Store::DefaultRoot());
    const auto roots = StepCache(store).Roots();
    const auto r = store.Fsck(*remove, roots);
    for (const auto& d : r.corrupt) std::cout << "corrupt: " << d.str() << "\n";
    for (const auto& d : r.orphaned) std::cout << "orphaned: " << d.str() << "\n";
    std::cout << r.corrupt.size() << " corrupt, " << r.orphaned.size() << " orphaned"
              << (*remove ? " (removed)" : "") << "\n";
    if (!r.corrupt.empty() && !*remove) throw ExitCode{1};
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
