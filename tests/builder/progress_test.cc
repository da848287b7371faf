// --progress=plain lines: what a CI log shows for a build.
#include "builder/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::progress_test {
namespace {

// A FILE* whose contents the test can read back.
class Captured {
 public:
  Captured() : f_(::open_memstream(&buf_, &len_)) {}
  ~Captured() {
    if (f_) std::fclose(f_);
    std::free(buf_);
  }
  std::FILE* file() { return f_; }
  std::string Text() {
    std::fflush(f_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  std::FILE* f_;
};

TEST(PlainProgress, OneLinePerEventNumberedFromOne) {
  Captured out;
  StreamProgress p(out.file(), /*live=*/false);
  const int a = p.Begin("[build 1/3] RUN make");
  const int b = p.Begin("[build 2/3] COPY . /src");
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  p.Output(a, "compiling");
  p.Cached(b);
  p.Done(a);
  const int c = p.Begin("[build 3/3] RUN test");
  p.Failed(c, "exit code 1");
  p.Note("pulling 127.0.0.1:5000/busybox");
  p.Finish();
  const std::regex want(
      "#1 \\[build 1/3\\] RUN make\n"
      "#2 \\[build 2/3\\] COPY \\. /src\n"
      "#1 [0-9]+\\.[0-9]{3} compiling\n"
      "#2 CACHED\n"
      "#1 DONE [0-9]+\\.[0-9]s\n"
      "#3 \\[build 3/3\\] RUN test\n"
      "#3 ERROR: exit code 1\n"
      "#0 pulling 127\\.0\\.0\\.1:5000/busybox\n");
  const std::string text = out.Text();
  EXPECT_TRUE(std::regex_match(text, want)) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no escape codes in plain mode";
}

TEST(PlainProgress, EventsForFinishedOrUnknownStepsAreDropped) {
  Captured out;
  StreamProgress p(out.file(), false);
  const int a = p.Begin("RUN x");
  p.Done(a);
  p.Output(a, "late");
  p.Done(a);
  p.Cached(42);
  p.Failed(42, "nope");
  EXPECT_TRUE(std::regex_match(out.Text(), std::regex("#1 RUN x\n#1 DONE [0-9.]+s\n"))) << out.Text();
}

TEST(LiveProgress, KeepsOnlyTheLastLinesUnderARunningStep) {
  Captured out;
  StreamProgress p(out.file(), /*live=*/true);
  const int a = p.Begin("RUN long");
  for (int i = 1; i <= 7; ++i) p.Output(a, "line " + std::to_string(i));
  const std::string text = out.Text();
  // The last redraw (after the last clear) shows lines 3..7 only.
  const std::string last = text.substr(text.rfind("\x1b[J") + 3);
  EXPECT_EQ(last.find("line 2"), std::string::npos) << last;
  EXPECT_NE(last.find("line 3"), std::string::npos) << last;
  EXPECT_NE(last.find("line 7"), std::string::npos) << last;
  p.Done(a);
  p.Finish();
  // Done clears the live block and leaves one summary line for the step.
  const std::string done = out.Text();
  const std::string after = done.substr(done.rfind("\x1b[J") + 3);
  EXPECT_TRUE(std::regex_match(after, std::regex("=> #1 RUN long [0-9]+\\.[0-9]s\n"))) << after;
}

TEST(NullProgress, CountsStepsAndPrintsNothing) {
  NullProgress p;
  EXPECT_EQ(p.Begin("a"), 1);
  EXPECT_EQ(p.Begin("b"), 2);
}

}  // namespace
}  // namespace kiln::builder::progress_test
