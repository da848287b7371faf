// PlanCopy edge cases beyond copy_test.cc: where each source of a COPY/ADD
// lands, as docker/BuildKit decide it from the destination's spelling.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "builder/copy.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::copy_plan_test {
namespace {

std::vector<std::string> Dests(const std::vector<CopyTarget>& v) {
  std::vector<std::string> out;
  for (const auto& t : v) out.push_back(t.dest + (t.contents ? " (contents)" : ""));
  return out;
}
using V = std::vector<std::string>;
const auto kNoDirs = [](const std::string&) { return false; };

const CopySource kFile{"/ctx/a.txt", "a.txt", false};
const CopySource kDir{"/ctx/src", "src", true};

TEST(CopyPlan, EmptyDestinationIsRejected) {
  EXPECT_THROW(PlanCopy({kFile}, "", "/", 1, false, kNoDirs), std::runtime_error);
}

TEST(CopyPlan, DotForms) {
  // ".", "..", and a trailing "/." all name a directory.
  EXPECT_EQ(Dests(PlanCopy({kFile}, ".", "/w", 1, false, kNoDirs)), V{"/w/a.txt"});
  EXPECT_EQ(Dests(PlanCopy({kFile}, "..", "/w/sub", 1, false, kNoDirs)), V{"/w/a.txt"});
  EXPECT_EQ(Dests(PlanCopy({kFile}, "/opt/.", "/", 1, false, kNoDirs)), V{"/opt/a.txt"});
  // Several sources are allowed with these spellings too.
  const std::vector<CopySource> two{kFile, {"/ctx/b", "b", false}};
  EXPECT_EQ(Dests(PlanCopy(two, ".", "/w", 2, false, kNoDirs)), (V{"/w/a.txt", "/w/b"}));
}

TEST(CopyPlan, DestinationIsCleaned) {
  EXPECT_EQ(Dests(PlanCopy({kFile}, "/x//y/../z", "/", 1, false, kNoDirs)), V{"/x/z"});
  EXPECT_EQ(Dests(PlanCopy({kFile}, "../../up/", "/a", 1, false, kNoDirs)), V{"/up/a.txt"});
  // An empty WORKDIR is "/".
  EXPECT_EQ(Dests(PlanCopy({kFile}, "rel", "", 1, false, kNoDirs)), V{"/rel"});
}

TEST(CopyPlan, ExistingDirectoryIsAskedByItsAbsolutePath) {
  std::vector<std::string> asked;
  auto probe = [&](const std::string& p) {
    asked.push_back(p);
    return p == "/app/conf";
  };
  EXPECT_EQ(Dests(PlanCopy({kFile}, "conf", "/app", 1, false, probe)), V{"/app/conf/a.txt"});
  EXPECT_EQ(asked, V{"/app/conf"});
  // With a trailing slash the answer is not needed.
  asked.clear();
  EXPECT_EQ(Dests(PlanCopy({kFile}, "conf/", "/app", 1, false, probe)), V{"/app/conf/a.txt"});
  EXPECT_TRUE(asked.empty());
}

TEST(CopyPlan, SeveralSourcesErrorSaysWhy) {
  const std::vector<CopySource> two{kFile, {"/ctx/b", "b", false}};
  try {
    PlanCopy(two, "/x", "/", 2, false, kNoDirs);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "When using COPY with more than one source file, the destination must be a directory and end with a /");
  }
}

TEST(CopyPlan, WildcardMatchingOneFileCopiesToTheNameAsWritten) {
  // "COPY *.txt /x" matching only a.txt: one source, /x is the file.
  EXPECT_EQ(Dests(PlanCopy({kFile}, "/x", "/", 1, false, kNoDirs)), V{"/x"});
}

TEST(CopyPlan, WildcardMatchingNothingPlansNothing) {
  EXPECT_TRUE(PlanCopy({}, "/x/", "/", 1, false, kNoDirs).empty());
}

TEST(CopyPlan, FilesAndDirectoriesMixed) {
  // A directory source always copies its contents into dest; a file joins it.
  EXPECT_EQ(Dests(PlanCopy({kDir, kFile}, "/out/", "/", 2, false, kNoDirs)),
            (V{"/out (contents)", "/out/a.txt"}));
}

TEST(CopyPlan, NestedSourceLandsUnderItsBaseName) {
  const CopySource nested{"/ctx/a/b/c.txt", "a/b/c.txt", false};
  EXPECT_EQ(Dests(PlanCopy({nested}, "/out/", "/", 1, false, kNoDirs)), V{"/out/c.txt"});
}

TEST(CopyPlan, RootSourceNamedByItsHostPath) {
  // A source with no path below its root (a single-file --from stage, a
  // URL download) is named after its host file.
  const CopySource root{"/tmp/dl/file.tgz", "", false};
  EXPECT_EQ(Dests(PlanCopy({root}, "/out/", "/", 1, false, kNoDirs)), V{"/out/file.tgz"});
}

TEST(CopyPlan, ParentsMakesDestADirectoryAndKeepsPaths) {
  const CopySource nested{"/ctx/a/b/c.txt", "a/b/c.txt", false};
  // --parents: dest is a directory even without a slash; the path below the
  // context is kept (relative dest joins WORKDIR).
  EXPECT_EQ(Dests(PlanCopy({nested}, "out", "/w", 1, true, kNoDirs)), V{"/w/out/a/b/c.txt"});
  // The context root itself has no parents to keep: its contents go to dest.
  const CopySource ctx_root{"/ctx", "", true};
  EXPECT_EQ(Dests(PlanCopy({ctx_root}, "/out", "/", 1, true, kNoDirs)), V{"/out (contents)"});
}

}  // namespace
}  // namespace kiln::builder::copy_plan_test
