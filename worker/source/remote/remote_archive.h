// RemoteArchive: a worker's view of the remote bases (`--remote-base URL`): which URLs may be
// read, what version of each file the server holds now, the shared block cache and HTTP
// client, and folder listings.
//
// - Names: a relative movie path is looked up under each base in turn (the first base that
//   has it wins; 404 everywhere: NOT_FOUND; any base unreachable and none had it:
//   UNAVAILABLE). Full URLs go through the UrlPolicy first (FORBIDDEN outside the bases).
// - Versions: open() asks the server (HEAD) for the file's size, ETag and Last-Modified and
//   hands out a RemoteFile for that version. The answer is trusted for revalidate_ms; after
//   that the next open() asks again, and a file whose validators changed gets a new
//   RemoteFile (new block-cache id, new FileSignature, so every cache built on the old one
//   misses). A read that meets another version marks the file stale at once.
// - Listings: the autoindex page of base + folder (worker/source/remote/autoindex_listing.h), merged
//   over the bases.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json_value.h"
#include "common/status.h"
#include "worker/source/movie_path.h"
#include "worker/source/remote/block_cache.h"
#include "worker/source/remote/http_range_reader.h"
#include "worker/source/remote/remote_file.h"
#include "worker/source/remote/url_policy.h"

namespace framewire {

struct RemoteConfig {
  std::vector<std::string> bases;                  // http(s) folders; empty: no remote movies
  uint64_t cache_bytes = uint64_t(256) << 20;      // the block cache
  uint64_t block_size = uint64_t(256) << 10;
  RemoteReadConfig read;
  int64_t revalidate_ms = 1000;                    // how long a HEAD answer is trusted
  size_t max_known_files = 4096;                   // versions remembered (oldest dropped)
  size_t max_listing_bytes = size_t(16) << 20;
  HttpConfig http;
};

class RemoteArchive {
 public:
  // INVALID_ARGUMENT when a base is not an http(s) URL.
  static Result<std::unique_ptr<RemoteArchive>> create(RemoteConfig config);
  ~RemoteArchive();

  const UrlPolicy& policy() const;

  // The current version of the file at `url` (canonical and checked by policy()).
  Result<std::shared_ptr<RemoteFile>> open(const HttpUrl& url);
  // The file under the first base that holds `relative` (plain text path), and its URL.
  struct Opened {
    std::string url;  // canonical URL asked (the key of the file; redirects are inside `file`)
    std::shared_ptr<RemoteFile> file;
  };
  Result<Opened> openRelative(const std::string& relative);
  // The version of `url` checked within revalidate_ms, without asking the server; else null.
  std::shared_ptr<RemoteFile> openIfFresh(const std::string& url) const;
  // The version last seen of `url` (however old); null when unknown.
  std::shared_ptr<RemoteFile> lastKnown(const std::string& url) const;

  // The entries of a folder below the bases ("" is the top), merged over the bases.
  Result<std::vector<FolderEntry>> list(const std::string& relative_folder);
  // The entries of the folder at `url` (checked by policy(), the base itself allowed).
  Result<std::vector<FolderEntry>> listUrl(const HttpUrl& url);

  JsonValue statsJson() const;
  BlockCache::Stats cacheStats() const;
  HttpCounters httpCounters() const;

 private:
  struct Io;        // policy, HTTP client and block cache: kept alive by every RemoteFile
  struct Registry;  // url -> known version; reached weakly from RemoteFile callbacks
  explicit RemoteArchive(RemoteConfig config, std::shared_ptr<Io> io);

  const RemoteConfig config_;
  std::shared_ptr<Io> io_;
  std::shared_ptr<Registry> registry_;
};

}  // namespace framewire
