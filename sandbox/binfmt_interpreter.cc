#include "sandbox/binfmt_interpreter.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sandbox/error.h"
#include "sandbox/file_io.h"
#include "sandbox/syscalls.h"

namespace kiln::sandbox {
namespace {

// "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" as its directory inside the
// root ("usr/libexec/qemu-binfmt") and its name.
std::pair<std::string, std::string> RelParts(const std::string& absolute) {
  const std::string rel = absolute.substr(absolute.find_first_not_of('/'));
  const size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {".", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// The program interpreter (dynamic loader) an ELF file asks for, or "" for a
// static one (or a file that is no 64-bit ELF: the kernel judges those).
std::string DynamicLoaderOf(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  Elf64_Ehdr eh {};
  if (!fd.valid() || PreadFull(fd.get(), &eh, sizeof eh, 0) != sizeof eh) return "";
  if (std::string(reinterpret_cast<const char*>(eh.e_ident), 4) != "\x7f" "ELF" || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr))
    return "";
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph {};
    if (PreadFull(fd.get(), &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != sizeof ph) return "";
    if (ph.p_type != PT_INTERP) continue;
    std::string loader(std::min<uint64_t>(ph.p_filesz, 4096), '\0');
    loader.resize(PreadFull(fd.get(), loader.data(), loader.size(), static_cast<off_t>(ph.p_offset)));
    return loader.substr(0, loader.find('\0'));
  }
  return "";
}

}  // namespace

bool NeedsInterpreterInRoot(const RunSpec& spec) {
  return spec.emulation && !spec.emulation->native && !spec.emulation->fix_binary;
}

std::filesystem::path HostInterpreter(const Emulation& emulation) {
  const std::string what = "the interpreter " + emulation.interpreter + " of the binfmt_misc handler " +
                           emulation.handler;
  if (emulation.interpreter.empty() || emulation.interpreter[0] != '/')
    throw Error(what + " is not an absolute path");
  std::error_code ec;
  const auto real = std::filesystem::canonical(emulation.interpreter, ec);
  if (ec || !std::filesystem::is_regular_file(real, ec))
    throw Error(what + " is not a file on this host" + (ec ? ": " + ec.message() : "") +
                "; the handler has no flag F, so the kernel looks for it at each run: reinstall its package "
                "(qemu-user-static) or register the handler with flag F (update-binfmts --import with "
                "fix-binary yes)");
  // Inside the step's root the host's libraries are missing.
  if (const std::string loader = DynamicLoaderOf(real); !loader.empty())
    throw Error(what + " (" + real.string() + ") is dynamically linked (it needs " + loader +
                "), and the handler has no flag F, so it would have to run inside the step's root, which lacks the "
                "host's libraries: register the static one of qemu-user-static, or the handler with flag F");
  return real;
}

Mount InterpreterBind(const Emulation& emulation) {
  Mount m;
  m.type = Mount::Type::kBind;
  m.source = HostInterpreter(emulation);
  m.target = emulation.interpreter;
  m.readonly = true;
  return m;
}

InterpreterCopy::InterpreterCopy(const std::filesystem::path& rootfs, const Emulation& emulation,
                                 MountStubs& stubs) {
  const std::filesystem::path host = HostInterpreter(emulation);
  const auto [dir_rel, name] = RelParts(emulation.interpreter);
  const std::string where = "putting the emulator " + emulation.interpreter + " into the step's root";
  if (name.empty() || name == "." || name == "..") throw Error(where + ": not a file path");
  try {
    stubs.Ensure(dir_rel, true, false);
    UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root.valid()) dir_.Reset(sys::OpenInRoot(root.get(), dir_rel.c_str(), O_RDONLY | O_DIRECTORY));
    if (!dir_.valid()) throw Error(where + ": opening its directory: " + sys::ErrnoText(errno));
    struct stat st {};
    if (::fstat(dir_.get(), &st) != 0) throw Error(where + ": stat of its directory: " + sys::ErrnoText(errno));
    times_[0] = st.st_atim;
    times_[1] = st.st_mtim;
    name_ = name;
    struct stat existing {};
    if (::fstatat(dir_.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
      if (::renameat(dir_.get(), name.c_str(), dir_.get(), (".kiln-saved-" + name).c_str()) != 0) {
        name_.clear();  // the image's own file stays where it is
        throw Error(where + ": setting the image's own file aside: " + sys::ErrnoText(errno));
      }
      saved_ = ".kiln-saved-" + name;
    }
    UniqueFd in(::open(host.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) throw Error(where + ": opening " + host.string() + ": " + sys::ErrnoText(errno));
    UniqueFd out(::openat(dir_.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0755));
    if (!out.valid()) throw Error(where + ": " + sys::ErrnoText(errno));
    CopyData(in.get(), out.get(), where);
    if (::fchmod(out.get(), 0755) != 0) throw Error(where + ": chmod: " + sys::ErrnoText(errno));  // past the umask
  } catch (...) {
    Remove();  // no destructor runs for a constructor that throws
    throw;
  }
}

void InterpreterCopy::Remove() {
  if (!dir_.valid()) return;
  if (!name_.empty()) ::unlinkat(dir_.get(), name_.c_str(), 0);
  if (!saved_.empty()) ::renameat(dir_.get(), saved_.c_str(), dir_.get(), name_.c_str());
  ::futimens(dir_.get(), times_);
  dir_.Reset();
}

}  // namespace kiln::sandbox
