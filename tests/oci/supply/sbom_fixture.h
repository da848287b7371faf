// A small image for the SBOM tests: Debian base layer, an app layer with
// Python/npm/Go content, and a layer deleting a package.
#pragma once

#include <string>
#include <vector>

#include "oci/layer/image_fs.h"
#include "oci/supply/package_dbs.h"
#include "tests/oci/supply/supply_test_util.h"

namespace kiln::oci::testing {

inline std::string FakeGoBinary() {
  std::string mod = "path\texample.com/app/cmd\nmod\texample.com/app\tv0.3.0\th1:a=\n"
                    "dep\tgithub.com/google/uuid\tv1.6.0\th1:b=\n";
  std::string framed = std::string(16, '0') + mod + std::string(16, '1');
  framed[framed.size() - 17] = '\n';
  std::string out = std::string("\x7f" "ELF", 4) + std::string(60, '\0') + std::string(kGoBuildInfoMagic) + "\x08\x02" +
                    std::string(16, '\0');
  out += static_cast<char>(8);
  out += "go1.22.1";
  for (size_t n = framed.size();; n >>= 7) {  // uvarint
    out += static_cast<char>(n < 0x80 ? n : ((n & 0x7f) | 0x80));
    if (n < 0x80) break;
  }
  return out + framed + std::string(100, '\0');
}

inline std::vector<LayerBlob> SbomImageLayers(const std::filesystem::path& dir) {
  const std::string status =
      "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n"
      "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n"
      "Maintainer: Mark Brown <broonie@debian.org>\n\n"
      "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u5\n";
  WriteTar(dir / "base.tar.gz",
           {Dir("etc"), File("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"),
            Dir("var/lib/dpkg"), File("var/lib/dpkg/status", status),
            File("usr/share/doc/zlib1g/copyright",
                 "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Zlib\n"),
            File("usr/lib/python3/dist-packages/old-1.0.dist-info/METADATA", "Name: old\nVersion: 1.0\n")});
  WriteTar(dir / "app.tar.gz",
           {File("usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
                 "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nbody\n"),
            File("app/node_modules/left-pad/package.json", R"({"name":"left-pad","version":"1.3.0","license":"WTFPL"})"),
            File("app/node_modules/@types/node/package.json", R"({"name":"@types/node","version":"20.1.0","license":"MIT"})"),
            File("app/node_modules/left-pad/lib/package.json", R"({"name":"not-a-package","version":"0"})"),
            File("app/package.json", R"({"name":"my-app","version":"1.0.0"})"),
            File("usr/local/bin/app", FakeGoBinary(), 0755)});
  // Deletes the old Python package and replaces dpkg status without curl.
  const std::string status2 = status.substr(0, status.find("Package: curl"));
  WriteTar(dir / "rm.tar.gz", {File("usr/lib/python3/dist-packages/.wh.old-1.0.dist-info", ""),
                               File("var/lib/dpkg/status", status2)});
  return {{dir / "base.tar.gz", "sha256:base"}, {dir / "app.tar.gz", "sha256:app"}, {dir / "rm.tar.gz", "sha256:rm"}};
}

}  // namespace kiln::oci::testing
