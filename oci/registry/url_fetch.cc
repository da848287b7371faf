#include "oci/registry/url_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "oci/error.h"
#include "sandbox/file_io.h"
#include "oci/registry/http_client.h"

namespace kiln::oci {

FetchedUrl FetchUrl(const std::string& url, const std::filesystem::path& dest_file,
                    const std::string& checksum) {
  std::optional<Digest> expected;
  if (!checksum.empty()) expected = Digest::Parse(checksum);
  if (expected && expected->algorithm != "sha256")
    throw Error(url + ": --checksum " + checksum + ": only sha256 is supported");

  sandbox::UniqueFd fd(::open(dest_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) ThrowErrno(url + ": create " + dest_file.string());
  Sha256 hash;
  HttpRequest req;
  req.url = url;
  req.sink = [&](const char* data, size_t size) {
    sandbox::WriteAll(fd.get(), data, size, dest_file.string());
    hash.Update(data, size);
    return true;
  };
  HttpClient client(TlsSettings{}, std::chrono::seconds(60));
  HttpResponse resp = client.Perform(req);
  if (resp.status < 200 || resp.status >= 300)
    throw Error(url + ": HTTP status " + std::to_string(resp.status));
  FetchedUrl out;
  out.file = dest_file;
  out.digest = hash.Final();
  if (expected && *expected != out.digest)
    throw Error(url + ": checksum mismatch: expected " + expected->str() + ", got " + out.digest.str());
  std::string path = url.substr(url.find("://") + 3);
  if (auto q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
  auto slash = path.find('/');
  std::string name = slash == std::string::npos ? "" : path.substr(path.rfind('/') + 1);
  out.filename = name.empty() ? "index.html" : name;
  return out;
}

}  // namespace kiln::oci
