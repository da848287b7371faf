#include "sandbox/binfmt.h"

#include <sys/utsname.h>

#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "sandbox/error.h"
#include "sandbox/file_io.h"

namespace kiln::sandbox {
namespace {

struct ElfMachine {
  bool is64;
  bool big_endian;
  uint16_t e_machine;
  const char* qemu;  // Debian's handler name
};

std::optional<ElfMachine> ElfFor(const std::string& m) {
  static const std::map<std::string, ElfMachine> kMachines = {
      {"x86_64", {true, false, 62, "qemu-x86_64"}},   {"aarch64", {true, false, 183, "qemu-aarch64"}},
      {"armv7l", {false, false, 40, "qemu-arm"}},     {"armv6l", {false, false, 40, "qemu-arm"}},
      {"armv5l", {false, false, 40, "qemu-arm"}},     {"i686", {false, false, 3, "qemu-i386"}},
      {"ppc64le", {true, false, 21, "qemu-ppc64le"}}, {"s390x", {true, true, 22, "qemu-s390x"}},
      {"riscv64", {true, false, 243, "qemu-riscv64"}}, {"mips64le", {true, false, 8, "qemu-mips64el"}},
  };
  auto it = kMachines.find(m);
  if (it == kMachines.end()) return std::nullopt;
  return it->second;
}

// The first 20 bytes of an executable for `e`, as binfmt_misc compares them.
std::string ElfHeader(const ElfMachine& e) {
  std::string h(20, '\0');
  h[0] = 0x7f, h[1] = 'E', h[2] = 'L', h[3] = 'F';
  h[4] = e.is64 ? 2 : 1;
  h[5] = e.big_endian ? 2 : 1;
  h[6] = 1;
  const auto put16 = [&](size_t at, uint16_t v) {
    h[at + (e.big_endian ? 1 : 0)] = char(v & 0xff);
    h[at + (e.big_endian ? 0 : 1)] = char(v >> 8);
  };
  put16(16, 2);  // ET_EXEC
  put16(18, e.e_machine);
  return h;
}

std::string Unhex(const std::string& s) {
  std::string out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(char(std::stoi(s.substr(i, 2), nullptr, 16)));
  return out;
}

struct Entry {
  bool enabled = false;
  std::string interpreter, flags, magic, mask;
  size_t offset = 0;
};

Entry ParseEntry(const std::string& text) {
  Entry e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "enabled") e.enabled = true;
    else if (line.rfind("interpreter ", 0) == 0) e.interpreter = line.substr(12);
    else if (line.rfind("flags: ", 0) == 0) e.flags = line.substr(7);
    else if (line.rfind("offset ", 0) == 0) e.offset = std::stoul(line.substr(7));
    else if (line.rfind("magic ", 0) == 0) e.magic = Unhex(line.substr(6));
    else if (line.rfind("mask ", 0) == 0) e.mask = Unhex(line.substr(5));
  }
  return e;
}

bool Matches(const Entry& e, const std::string& header) {
  if (e.magic.empty() || e.offset + e.magic.size() > header.size()) return false;
  for (size_t i = 0; i < e.magic.size(); ++i) {
    const unsigned char m = i < e.mask.size() ? static_cast<unsigned char>(e.mask[i]) : 0xff;
    if ((static_cast<unsigned char>(header[e.offset + i]) & m) != (static_cast<unsigned char>(e.magic[i]) & m))
      return false;
  }
  return true;
}

std::string HostMachine() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.machine : "";
}

}  // namespace

Emulation EmulationFor(const std::string& machine, const std::filesystem::path& binfmt_dir) {
  Emulation out;
  const std::string host = HostMachine();
  // 64-bit kernels run their 32-bit siblings' binaries themselves.
  if (machine == host || (host == "x86_64" && machine == "i686") ||
      (host == "aarch64" && machine.rfind("armv", 0) == 0 && machine != "armv5l")) {
    out.native = true;
    return out;
  }
  const auto elf = ElfFor(machine);
  const std::string qemu = elf ? elf->qemu : "qemu-" + machine;
  const std::string register_cmd = "apt-get install qemu-user-static binfmt-support && update-binfmts --enable " + qemu;
  if (!elf)
    throw Error("running " + machine + " binaries: kiln does not know their ELF machine; build for one of "
                "amd64, arm64, arm/v7, 386, ppc64le, s390x, riscv64");
  std::error_code ec;
  if (!std::filesystem::exists(binfmt_dir / "status", ec))
    throw Error("running " + machine + " binaries needs binfmt_misc, which is not mounted at " + binfmt_dir.string() +
                "; as root on the host: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && " + register_cmd);
  const std::string header = ElfHeader(*elf);
  if (ReadFileToString(binfmt_dir / "status").rfind("enabled", 0) != 0)
    throw Error("running " + machine + " binaries: binfmt_misc is disabled (" + (binfmt_dir / "status").string() +
                "); as root on the host: echo 1 > " + (binfmt_dir / "status").string());
  std::string disabled;
  for (const auto& name : ListDirNames(binfmt_dir)) {
    if (name == "register" || name == "status") continue;
    std::string text;
    try {
      text = ReadFileToString(binfmt_dir / name);
    } catch (const std::exception&) {
      continue;  // an entry removed while we read
    }
    const Entry e = ParseEntry(text);
    if (!Matches(e, header)) continue;
    if (!e.enabled) {
      disabled = name;
      continue;
    }
    out.handler = name;
    out.interpreter = e.interpreter;
    out.fix_binary = e.flags.find('F') != std::string::npos;
    return out;
  }
  if (!disabled.empty())
    throw Error("running " + machine + " binaries: the binfmt_misc handler " + disabled +
                " is registered but disabled; as root on the host: update-binfmts --enable " + disabled);
  throw Error("running " + machine + " binaries needs an emulator, and binfmt_misc (" + binfmt_dir.string() +
              ") has no handler for them; as root on the host (a container shares the host's handlers): " +
              register_cmd);
}

}  // namespace kiln::sandbox
