// libcurl is opened on first use, not linked: kiln's start stays free of its
// ~25 libraries for commands that never talk HTTP.
#include "oci/registry/libcurl.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "oci/registry/http_client.h"

namespace kiln::oci {
namespace {

std::string Output(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while (p && (n = std::fread(buf.data(), 1, buf.size(), p.get())) > 0) out.append(buf.data(), n);
  return out;
}

bool CurlMapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libcurl.so") != std::string::npos) return true;
  return false;
}

// Loaded while a hold exists, unloaded (its ~25 libraries' pages gone) when
// the last one goes, loaded again by the next.
TEST(LibCurl, LoadedWhileHeld) {
  ASSERT_FALSE(CurlMapped());
  EXPECT_THROW(Curl(), std::logic_error);
  {
    CurlHold hold;
    ASSERT_NE(Curl().version_info, nullptr);
    EXPECT_TRUE(CurlMapped());
    CurlHold copy(hold);
    EXPECT_TRUE(HttpLibraryVersion().starts_with("libcurl 7.")) << HttpLibraryVersion();
    EXPECT_EQ(UrlEscape("a b/c"), "a%20b%2Fc");
  }
#if !defined(__SANITIZE_ADDRESS__)  // sanitizer builds keep it mapped (oci/registry/libcurl.cc)
  EXPECT_FALSE(CurlMapped()) << "the last hold unloads it";
#endif
  EXPECT_THROW(Curl(), std::logic_error);
  CurlHold again;
  EXPECT_TRUE(CurlMapped());
  EXPECT_EQ(UrlEscape("x y"), "x%20y");
}

TEST(LibCurl, CommandsWithoutHttpDoNotLoadIt) {
  const std::string kiln = KILN_BINARY;
  // ld.so names every library it opens under LD_DEBUG=files, dlopen'ed ones too.
  const std::string lint = Output("printf 'FROM scratch\\n' | LD_DEBUG=files " + kiln +
                               " lint --failure-threshold none - 2>&1");
  EXPECT_EQ(lint.find("libcurl"), std::string::npos) << lint.substr(0, 2000);
  EXPECT_NE(lint.find("libarchive"), std::string::npos) << "LD_DEBUG output was seen";
  const std::string version = Output("LD_DEBUG=files " + kiln + " version 2>&1");
  EXPECT_NE(version.find("libcurl.so.4"), std::string::npos) << "`kiln version` loads it to report it";
}

}  // namespace
}  // namespace kiln::oci
