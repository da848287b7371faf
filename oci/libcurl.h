// libcurl, loaded when kiln first talks HTTP. Debian's libcurl4 brings about
// 25 more shared libraries (GnuTLS, Kerberos, LDAP, SASL, ...), which cost
// about 9 ms at every start of kiln (measured: 17 ms vs 8 ms for a program
// linked with and without it on this 2-core machine), also for commands that
// never reach a registry: lint in a pre-commit hook, parse, a build from a
// local layout. So the library is opened with dlopen on first use and the few
// functions kiln calls are looked up once; <curl/curl.h> still gives the
// types and constants.
#pragma once

#include <curl/curl.h>

namespace kiln::oci {

struct LibCurl {
  CURLcode (*global_init)(long flags);
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

// The loaded library (curl_global_init done). Throws oci::Error naming the
// library and dlerror() when it cannot be loaded.
const LibCurl& Curl();

}  // namespace kiln::oci
