// libcurl is opened on first use, not linked: kiln's start stays free of its
// ~25 libraries for commands that never talk HTTP.
#include "oci/libcurl.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "oci/http_client.h"

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

TEST(LibCurl, LoadsOnFirstUse) {
  const LibCurl& c = Curl();
  ASSERT_NE(c.version_info, nullptr);
  EXPECT_EQ(&c, &Curl()) << "loaded once";
  EXPECT_TRUE(HttpLibraryVersion().starts_with("libcurl 7.")) << HttpLibraryVersion();
  EXPECT_EQ(UrlEscape("a b/c"), "a%20b%2Fc");
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
