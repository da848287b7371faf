#include "builder/registry_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace kiln::builder {
namespace {

TEST(RegistryCacheSpec, BuildxForms) {
  EXPECT_EQ(ParseRegistryCacheSpec("type=registry,ref=r/app:cache"), "r/app:cache");
  EXPECT_EQ(ParseRegistryCacheSpec("r/app:cache"), "r/app:cache");  // buildx's shorthand
  EXPECT_EQ(ParseRegistryCacheSpec("type=registry,ref=r/a:c,mode=max,image-manifest=true,oci-mediatypes=true"), "r/a:c");
  EXPECT_THROW(ParseRegistryCacheSpec("type=inline"), std::runtime_error);
  EXPECT_THROW(ParseRegistryCacheSpec("type=registry"), std::runtime_error);
  EXPECT_THROW(ParseRegistryCacheSpec("type=registry,ref=r/a:c,bogus=1"), std::runtime_error);
}

}  // namespace
}  // namespace kiln::builder
