#include "builder/read_input.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/oci/ocicore_test_util.h"

namespace kiln::builder {
namespace {

namespace fs = std::filesystem;
using oci::ocitest::ScratchDir;
using oci::ocitest::WriteText;

class ReadInputTest : public ::testing::Test {
 protected:
  ScratchDir dir_;
};

TEST_F(ReadInputTest, RegularFilesWhole) {
  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = '\n';
  WriteText(dir_ / "big", big);
  WriteText(dir_ / "empty", "");
  EXPECT_EQ(ReadInputFile(dir_ / "big"), big);
  EXPECT_EQ(ReadInputFile(dir_ / "empty"), "");
}

// A FIFO has no size: it is read to EOF, past the first chunk.
TEST_F(ReadInputTest, PipeReadToEof) {
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string data(20000, 'y');
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << data; });
  EXPECT_EQ(ReadInputFile(fifo), data);
  writer.join();
}

TEST_F(ReadInputTest, ErrorsNameThePathAndTheReason) {
  try {
    ReadInputFile(dir_ / "missing");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + (dir_ / "missing").string() + ": No such file or directory");
  }
  // A directory opens, but is not a Dockerfile: an error, not an empty text.
  try {
    ReadInputFile(dir_.path());
    ADD_FAILURE() << "no error for a directory";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + dir_.path().string() + ": Is a directory");
  }
}

}  // namespace
}  // namespace kiln::builder
