#include "oci/registry/libcurl.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "oci/error.h"

namespace kiln::oci {
namespace {

// The soname of Debian's libcurl4 (the OpenSSL flavour kiln is built against).
constexpr const char* kSoname = "libcurl.so.4";

template <typename F>
void Resolve(void* lib, const char* name, F& fn) {
  void* sym = ::dlsym(lib, name);
  if (!sym) {
    const char* why = ::dlerror();
    throw Error(std::string("libcurl: ") + name + " not found in " + kSoname + (why ? std::string(": ") + why : ""));
  }
  fn = reinterpret_cast<F>(sym);
}

struct Loaded {
  void* lib = nullptr;
  LibCurl fns{};
};

Loaded Load() {
  void* lib = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    throw Error(std::string("loading ") + kSoname + " for registry access: " + (why ? why : "unknown error") +
                " (install the libcurl4 package)");
  }
  Loaded l{lib, {}};
  try {
    LibCurl& c = l.fns;
    Resolve(lib, "curl_global_init", c.global_init);
    Resolve(lib, "curl_global_cleanup", c.global_cleanup);
    Resolve(lib, "curl_easy_init", c.easy_init);
    Resolve(lib, "curl_easy_setopt", c.easy_setopt);
    Resolve(lib, "curl_easy_perform", c.easy_perform);
    Resolve(lib, "curl_easy_getinfo", c.easy_getinfo);
    Resolve(lib, "curl_easy_cleanup", c.easy_cleanup);
    Resolve(lib, "curl_easy_strerror", c.easy_strerror);
    Resolve(lib, "curl_easy_escape", c.easy_escape);
    Resolve(lib, "curl_free", c.free);
    Resolve(lib, "curl_slist_append", c.slist_append);
    Resolve(lib, "curl_slist_free_all", c.slist_free_all);
    Resolve(lib, "curl_version_info", c.version_info);
    if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("curl_global_init failed");
  } catch (...) {
    ::dlclose(lib);
    throw;
  }
  return l;
}

std::mutex mu;
size_t holds = 0;
Loaded loaded;

}  // namespace

CurlHold::CurlHold() {
  std::lock_guard lock(mu);
  if (holds == 0) loaded = Load();  // throws: no hold taken
  ++holds;
}

CurlHold::CurlHold(const CurlHold&) {
  std::lock_guard lock(mu);
  ++holds;
}

CurlHold::~CurlHold() {
  std::lock_guard lock(mu);
  if (--holds > 0) return;
  loaded.fns.global_cleanup();
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer (GCC 12) crashes at exit on the dynamic TLS that an
  // unloaded library (GnuTLS, under libcurl) leaves registered: in sanitizer
  // builds the library stays mapped; the next hold opens the same handle.
#else
  ::dlclose(loaded.lib);
#endif
  loaded = Loaded{};
}

const LibCurl& Curl() {
  // Read without the lock: the caller's hold keeps `loaded` as it is.
  if (!loaded.lib) throw std::logic_error("libcurl used without a CurlHold");
  return loaded.fns;
}

}  // namespace kiln::oci
