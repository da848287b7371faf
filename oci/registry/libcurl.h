// libcurl, loaded while kiln talks HTTP. Debian's libcurl4 brings about 25
// more shared libraries (GnuTLS, Kerberos, LDAP, SASL, ...), which cost
// about 9 ms at every start of kiln (measured: 17 ms vs 8 ms for a program
// linked with and without it on this 2-core machine), also for commands that
// never reach a registry: lint in a pre-commit hook, parse, a build from a
// local layout, and about 5 MB of resident pages while loaded. So the library
// is opened with dlopen when a CurlHold first needs it and closed when the
// last hold goes (a build pulls its bases, then writes layers for minutes
// without it); the few functions kiln calls are looked up at each load.
// <curl/curl.h> still gives the types and constants.
#pragma once

#include <curl/curl.h>

namespace kiln::oci {

struct LibCurl {
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)();
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  char* (*easy_escape)(CURL*, const char*, int);
  void (*free)(void*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  curl_version_info_data* (*version_info)(CURLversion);
};

// Keeps the library loaded (curl_global_init done) while it exists; the
// last hold to go calls curl_global_cleanup and unloads it. The first hold
// throws oci::Error naming the library and dlerror() when it cannot be
// loaded. Copies are further holds.
class CurlHold {
 public:
  CurlHold();
  CurlHold(const CurlHold&);
  CurlHold& operator=(const CurlHold&) { return *this; }  // both hold already
  ~CurlHold();
};

// The loaded library. Only while a CurlHold exists (std::logic_error
// otherwise): the pointers are gone once it is unloaded.
const LibCurl& Curl();

}  // namespace kiln::oci
