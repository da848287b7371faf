#include "oci/layer/gzip_members.h"

#include <sys/stat.h>

#include <charconv>
#include <string>
#include <string_view>

#include "oci/error.h"
#include "sandbox/error.h"
#include "sandbox/file_io.h"

namespace kiln::oci {

namespace {

constexpr std::string_view kHeader = "kiln-gzip-members 1\n";

bool ParseInt(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

}  // namespace

std::filesystem::path GzipMembersPath(const Store& store, const Digest& blob) {
  return store.Path("gzip-members") / blob.hex;
}

void WriteGzipMembers(const Store& store, const Digest& blob, const std::vector<GzipMember>& members) {
  std::string text(kHeader);
  text.reserve(kHeader.size() + members.size() * 90 + 32);
  for (const auto& m : members)
    text += m.content.hex + " " + std::to_string(m.offset) + " " + std::to_string(m.length) + "\n";
  text += "end " + std::to_string(members.size()) + "\n";
  std::error_code ec;
  std::filesystem::create_directories(store.Path("gzip-members"), ec);
  if (ec) throw Error("gzip members: create " + store.Path("gzip-members").string() + ": " + ec.message());
  sandbox::WriteFileAtomic(GzipMembersPath(store, blob), text);
}

std::optional<std::vector<GzipMember>> ReadGzipMembers(const Store& store, const Digest& blob) {
  struct stat st {};
  if (::stat(store.BlobPath(blob).c_str(), &st) != 0) return std::nullopt;
  std::string text;
  try {
    text = sandbox::ReadFileToString(GzipMembersPath(store, blob));
  } catch (const sandbox::Error&) {
    return std::nullopt;
  }
  if (!text.starts_with(kHeader)) return std::nullopt;
  std::vector<GzipMember> out;
  std::string_view rest = std::string_view(text).substr(kHeader.size());
  int64_t end = 0;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (line.starts_with("end ")) {
      int64_t count = 0;
      if (!rest.empty() || !ParseInt(line.substr(4), count) || count != static_cast<int64_t>(out.size()))
        return std::nullopt;
      return out;
    }
    const size_t a = line.find(' '), b = line.rfind(' ');
    if (a != 64 || b == a) return std::nullopt;
    GzipMember m;
    m.content.hex = std::string(line.substr(0, a));
    if (m.content.hex.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
    if (!ParseInt(line.substr(a + 1, b - a - 1), m.offset) || !ParseInt(line.substr(b + 1), m.length))
      return std::nullopt;
    // Members tile the blob in order.
    if (m.offset != end || m.length == 0 || m.offset + m.length > st.st_size) return std::nullopt;
    end = m.offset + m.length;
    out.push_back(std::move(m));
  }
  return std::nullopt;  // no "end" line: truncated
}

}  // namespace kiln::oci
