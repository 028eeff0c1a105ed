// RAII owners for libcurl objects, and libcurl's one-time global initialisation.
//
// Every CURL easy handle and header list the worker creates lives in one of these, so an
// early return can never leak one. Thread-safety: as the objects they own (one thread at a
// time); ensureCurlGlobalInit() may be called from any thread, any number of times.
#pragma once

#include <memory>

#include <curl/curl.h>

namespace framewire {

struct CurlEasyCleanup {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlSlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using UniqueCurl = std::unique_ptr<CURL, CurlEasyCleanup>;
using UniqueCurlSlist = std::unique_ptr<curl_slist, CurlSlistFree>;

// curl_global_init(CURL_GLOBAL_DEFAULT) once per process, before the first handle is made
// (libcurl requires it to run before any other thread uses libcurl).
void ensureCurlGlobalInit();

// Appends `header` to `list` (which may be empty); false when out of memory.
bool appendHeader(UniqueCurlSlist* list, const char* header);

}  // namespace framewire
