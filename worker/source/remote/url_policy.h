// HttpUrl and UrlPolicy: which http(s) URLs a worker may fetch (the allow-list of remote bases).
//
// A client may name a remote movie by its full URL; without a check that is a server-side
// request forgery: the worker would fetch whatever the client names (an internal service, a
// cloud metadata endpoint, a file outside the archive). UrlPolicy accepts a URL only when it
// lies under one of the configured bases (`--remote-base`): same scheme, same host (compared
// as lower-case text, so "127.1" is not "127.0.0.1"), same port (defaults filled in), and a
// path whose decoded segments start with the base's. Everything ambiguous is FORBIDDEN rather
// than interpreted: userinfo ("user@host"), "." and ".." segments also when percent-encoded
// ("%2e%2e"), encoded "/" or "\" or NUL inside a segment, backslashes, query strings and
// fragments, percent-encoding in the host, other schemes.
//
// What is fetched is the canonical form of the checked URL (segments decoded once and
// re-encoded), never the client's text, so the server sees exactly the path that was checked.
// The same check applies to every redirect target.
//
// Thread-safety: immutable after creation; use from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace framewire {

struct HttpUrl {
  std::string scheme;                 // "http" or "https"
  std::string host;                   // lower case; IPv6 literals keep their brackets
  int port = 0;                       // explicit or the scheme's default
  std::vector<std::string> segments;  // decoded path segments, none empty
  bool trailing_slash = false;        // the path ends in "/" (a folder)

  // scheme://host[:port]/seg/seg[/], segments percent-encoded; the port only when it is not
  // the scheme's default.
  std::string toString() const;
  // The decoded segments joined with "/" (no leading slash).
  std::string path() const;
};

// True when `text` starts like a URL ("scheme://"), whatever the scheme.
bool looksLikeUrl(const std::string& text);

// Parses an absolute http(s) URL strictly (see the header comment). Not http(s), userinfo,
// dot segments, encoded separators, query or fragment: FORBIDDEN; malformed: INVALID_ARGUMENT.
Result<HttpUrl> parseHttpUrl(const std::string& text);

// Percent-encodes one path segment (every byte but unreserved characters and a few safe ones).
std::string encodePathSegment(const std::string& segment);

// Decodes %XX escapes; INVALID_ARGUMENT on a broken escape.
Result<std::string> percentDecode(const std::string& text);

class UrlPolicy {
 public:
  // Bases are folders: "http://host/archive" and "http://host/archive/" are the same base.
  // A base that does not parse: INVALID_ARGUMENT naming it.
  static Result<UrlPolicy> create(const std::vector<std::string>& bases);
  UrlPolicy() = default;

  struct Match {
    size_t base = 0;       // index into bases()
    std::string relative;  // the path below the base, decoded segments joined by "/"
    HttpUrl url;           // canonical
  };

  // The base `url` lies under (the first, when bases nest). FORBIDDEN naming the URL when it
  // is under none, or anything in it is refused. `allow_base_itself`: the base folder itself
  // matches too (for listings).
  Result<Match> check(const std::string& url, bool allow_base_itself = false) const;
  Result<Match> check(const HttpUrl& url, bool allow_base_itself = false) const;

  // The URL of a client's relative path below base `base`. The relative path is plain text
  // (not percent-encoded): "a b/c.mov" becomes ".../a%20b/c.mov". "..": FORBIDDEN; absolute
  // paths, NUL or backslashes: FORBIDDEN / INVALID_ARGUMENT. `folder`: a trailing "/".
  Result<HttpUrl> join(size_t base, const std::string& relative, bool folder = false) const;

  const std::vector<HttpUrl>& bases() const { return bases_; }
  bool empty() const { return bases_.empty(); }

 private:
  std::vector<HttpUrl> bases_;
};

}  // namespace framewire
