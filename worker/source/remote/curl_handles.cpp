#include "worker/source/remote/curl_handles.h"

#include <mutex>

namespace framewire {

void ensureCurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool appendHeader(UniqueCurlSlist* list, const char* header) {
  curl_slist* grown = curl_slist_append(list->get(), header);
  if (!grown) return false;
  list->release();  // curl_slist_append returns the same head (or a new one for an empty list)
  list->reset(grown);
  return true;
}

}  // namespace framewire
