// The set-up most builder tests share: a scratch dir and a content store in
// it (dir_/store). Tests that need more add to it in their own SetUp().
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "oci/store/store.h"
#include "tests/test_util/scratch_dir.h"

namespace kiln::builder {

class StoreFixture : public ::testing::Test {
 protected:
  testutil::ScratchDir scratch_{"kiln-builder"};
  const std::filesystem::path dir_ = scratch_.path();
  std::unique_ptr<oci::Store> store_ = std::make_unique<oci::Store>(dir_ / "store");
};

}  // namespace kiln::builder
