// Parsing folder listings ("autoindex" pages) of plain HTTP file servers, for LIST over a
// remote base: nginx's `autoindex on`, Apache's mod_autoindex (fancy or plain), lighttpd and
// Python's http.server all write one <a href="NAME"> per entry, folders ending in "/".
//
// Entries are the links that name a direct child of the listed folder: relative hrefs
// ("name", "name/", percent-encoded) or absolute paths below the folder's own path. Sorting
// links ("?C=N;O=D"), the parent ("../", "Parent Directory"), links elsewhere (other hosts,
// other folders), "." and hidden names (starting with ".") are skipped, as local listings
// skip hidden files. Sizes: the last size-looking token after the link on its line (nginx's
// exact bytes, or "14G"/"1.5M" approximations as Apache and nginx without exact sizes
// print them); folders and unknown sizes are 0.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "worker/source/movie_path.h"

namespace framewire {

// `folder_path` is the listed folder's decoded URL path ("/archive/RS03ASHS/"), used to accept
// absolute hrefs below it. Entries come back sorted by name, each name once.
std::vector<FolderEntry> parseAutoindex(const std::string& html, const std::string& folder_path);

// "300000" -> 300000, "14G" -> 14 GiB, "1.5M" -> 1.5 MiB; false when `token` is not a size.
bool parseListingSize(const std::string& token, uint64_t* bytes);

}  // namespace framewire
