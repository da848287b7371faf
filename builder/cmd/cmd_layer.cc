// `kiln layer create DIR`: writes DIR as a layer blob into the store and
// prints its digest and diff_id. A plumbing command for benchmarks and
// debugging (hidden from `kiln --help`).
#include <CLI/CLI.hpp>

#include <iostream>

#include "builder/cmd/commands.h"
#include "oci/layer/layer.h"
#include "oci/store/store.h"

namespace kiln::builder {

void AddLayerCommand(CLI::App& app) {
  auto* layer = app.add_subcommand("layer", "Layer plumbing")->group("");
  layer->require_subcommand(1);
  auto* create = layer->add_subcommand("create", "Write a directory as a layer blob into the store");
  struct Opts {
    std::string dir, compression = "gzip";
    int64_t epoch = -1;
  };
  auto opts = std::make_shared<Opts>();
  create->add_option("DIR", opts->dir, "Directory (overlay form)")->required()->check(CLI::ExistingDirectory);
  create->add_option("--compression", opts->compression, "gzip, zstd or none")
      ->check(CLI::IsMember({"gzip", "zstd", "none"}));
  create->add_option("--source-date-epoch", opts->epoch, "Clamp mtimes to this unix time");
  create->callback([opts] {
    oci::LayerOptions lo;
    lo.compression = opts->compression == "zstd"   ? oci::Compression::kZstd
                     : opts->compression == "none" ? oci::Compression::kNone
                                                   : oci::Compression::kGzip;
    if (opts->epoch >= 0) lo.source_date_epoch = opts->epoch;
    oci::Store store(oci::Store::DefaultRoot());
    const oci::Layer layer = oci::WriteLayer(store, opts->dir, lo);
    std::cout << layer.blob.digest.str() << " " << layer.blob.size << " diff_id=" << layer.diff_id.str() << "\n";
  });
}

}  // namespace kiln::builder
