#include "builder/output_spec.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <stdexcept>

#include "builder/cmd/build_flags_compat.h"

namespace kiln::builder {
namespace {

TEST(OutputSpec, OciTarByDestName) {
  auto o = ParseOutputSpec("type=oci,dest=app.tar");
  EXPECT_EQ(o.type, "oci");
  EXPECT_TRUE(o.tar);
  EXPECT_FALSE(ParseOutputSpec("type=oci,dest=app.oci").tar);
  EXPECT_TRUE(ParseOutputSpec("type=oci,dest=layout,tar=true").tar);
  EXPECT_FALSE(ParseOutputSpec("type=oci,dest=x.tar,tar=false").tar);
  EXPECT_TRUE(ParseOutputSpec("type=oci,dest=-").tar);
  EXPECT_THROW(ParseOutputSpec("type=oci,dest=-,tar=false"), std::invalid_argument);
}

TEST(OutputSpec, BuildxShortForms) {
  auto dash = ParseOutputSpec("-");
  EXPECT_EQ(dash.type, "tar");
  EXPECT_EQ(dash.dest, "-");
  auto dir = ParseOutputSpec("out/dir");
  EXPECT_EQ(dir.type, "local");
  EXPECT_EQ(dir.dest, "out/dir");
}

TEST(OutputSpec, ImageAndRegistry) {
  auto img = ParseOutputSpec("type=image,\"name=r/a:1,r/b:2\",push=true");
  EXPECT_EQ(img.type, "image");
  EXPECT_TRUE(img.push);
  ASSERT_EQ(img.names.size(), 2u);
  EXPECT_EQ(img.names[1], "r/b:2");
  auto reg = ParseOutputSpec("type=registry");
  EXPECT_EQ(reg.type, "image");
  EXPECT_TRUE(reg.push);
  EXPECT_FALSE(ParseOutputSpec("type=image,name=x").push);
}

TEST(OutputSpec, Errors) {
  EXPECT_THROW(ParseOutputSpec("type=oci"), std::invalid_argument);             // no dest
  EXPECT_THROW(ParseOutputSpec("type=cacheonly"), std::invalid_argument);       // not an output
  EXPECT_THROW(ParseOutputSpec("type=local,dest=-"), std::invalid_argument);    // a dir on stdout
  EXPECT_THROW(ParseOutputSpec("type=docker,dest=a,bogus=1"), std::invalid_argument);
  EXPECT_THROW(ParseOutputSpec("type=tar,dest=a,push=true"), std::invalid_argument);
  EXPECT_THROW(ParseOutputSpec("type=oci,\"dest=a"), std::invalid_argument);    // open quote
}

TEST(CompatFlags, ByteSizes) {
  EXPECT_EQ(ParseByteSize("64m"), 64u << 20);
  EXPECT_EQ(ParseByteSize("1g"), 1u << 30);
  EXPECT_EQ(ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(ParseByteSize("4096"), 4096u);
  EXPECT_THROW(ParseByteSize("lots"), std::invalid_argument);
  EXPECT_THROW(ParseByteSize("3x"), std::invalid_argument);
}

TEST(CompatFlags, Ulimits) {
  auto u = ParseUlimit("nofile=1024:2048");
  EXPECT_EQ(u.resource, RLIMIT_NOFILE);
  EXPECT_EQ(u.soft, 1024u);
  EXPECT_EQ(u.hard, 2048u);
  auto c = ParseUlimit("core=unlimited");
  EXPECT_EQ(c.soft, RLIM_INFINITY);
  EXPECT_EQ(c.hard, RLIM_INFINITY);
  EXPECT_THROW(ParseUlimit("nofile=10:5"), std::invalid_argument);
  EXPECT_THROW(ParseUlimit("files=10"), std::invalid_argument);
}

TEST(CompatFlags, AnnotationsLabelsHosts) {
  CompatFlags f;
  f.labels = {"a=1"};
  f.annotations = {"m=1", "manifest:m2=2", "index:i=3"};
  f.add_hosts = {"db:10.0.0.2", "v6=::1"};
  BuildOptions o;
  std::vector<std::string> notes;
  ApplyCompatFlags(f, o, notes);
  EXPECT_EQ(o.labels.at("a"), "1");
  EXPECT_EQ(o.manifest_annotations.at("m"), "1");
  EXPECT_EQ(o.manifest_annotations.at("m2"), "2");
  EXPECT_EQ(o.index_annotations.at("i"), "3");
  ASSERT_EQ(o.add_hosts.size(), 2u);
  EXPECT_EQ(o.add_hosts[0], "db 10.0.0.2");
  EXPECT_EQ(o.add_hosts[1], "v6 ::1");
}

TEST(CompatFlags, SbomProvenanceAttest) {
  BuildOptions o;
  std::vector<std::string> notes;
  CompatFlags f;
  f.attest = {"type=provenance,mode=max"};
  ApplyCompatFlags(f, o, notes);
  EXPECT_TRUE(o.sbom);
  EXPECT_EQ(notes.size(), 1u);  // both are attached: said so
  BuildOptions off;
  off.sbom = true;
  CompatFlags g;
  g.sbom = "false";
  ApplyCompatFlags(g, off, notes);
  EXPECT_FALSE(off.sbom);
}

}  // namespace
}  // namespace kiln::builder
