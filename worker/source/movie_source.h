// MovieSources: where a movie name leads: a local root, an overlay copy, or a remote URL; and
// the folder listings over all of them.
//
// A name is resolved in this order (Lazycache's meaning of overlays kept):
// 1. A relative path under a local root (`--root`, worker/source/movie_path.h): the first root that
//    holds it. FORBIDDEN / INVALID_ARGUMENT there are final.
// 2. An overlay copy (`--file-overlay DIR`): the same relative path under DIR, or, with
//    `--file-overlay-flatten`, the path's file name directly in DIR (local copies of remote
//    movies kept in one folder). A local copy wins over the remote file; overlays are only
//    read. For a full URL name, the overlay path is the URL's path below its base.
// 3. A remote base (`--remote-base URL`): URL + path, the first base that has it.
// A full `http(s)://` name skips the roots and must lie under a configured base
// (worker/source/remote/url_policy.h), else FORBIDDEN.
//
// Each resolved movie has a key (the canonical local path, or the URL) that names it in the
// caches, and a FileSignature: size + mtime + inode locally; for remote files size +
// Last-Modified + the ETag in `version`, so a file replaced on the server gets a new signature
// and every cache keyed by it misses. Remote movies carry the ByteSource to read them through
// (local files are opened by FFmpeg by path).
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_value.h"
#include "common/status.h"
#include "worker/source/byte_source.h"
#include "worker/index/movie_index.h"
#include "worker/source/movie_path.h"
#include "worker/source/remote/remote_archive.h"

namespace framewire {

struct MovieSourcesConfig {
  std::vector<std::string> roots;
  std::vector<std::string> overlays;  // folders of local copies of remote movies
  bool overlay_flatten = false;       // overlays hold the copies by file name, in one folder
  RemoteConfig remote;                // remote.bases empty: no remote movies
};

struct ResolvedMovie {
  enum class Kind { kLocal, kOverlay, kRemote };
  Kind kind = Kind::kLocal;
  std::string key;                    // canonical path, or the URL
  FileSignature signature;
  std::shared_ptr<ByteSource> bytes;  // remote: the reader; local and overlay: null
};
const char* movieKindName(ResolvedMovie::Kind kind);

// The signature of a remote file version: size, Last-Modified (as mtime), ETag (as version).
FileSignature remoteSignature(const RemoteFileInfo& info);

class MovieSources {
 public:
  // INVALID_ARGUMENT for a remote base that is not an http(s) URL.
  static Result<std::unique_ptr<MovieSources>> create(MovieSourcesConfig config);

  // Resolves a client's movie name (see the header comment); may ask a remote server.
  // NOT_FOUND, FORBIDDEN, INVALID_ARGUMENT, UNAVAILABLE (a server unreachable) with the reason.
  Result<ResolvedMovie> resolve(const std::string& name);
  // The same without waiting for a server: nullopt when the answer would need one (a remote
  // movie not checked within the revalidation interval) or the name does not resolve.
  std::optional<ResolvedMovie> resolveWithoutNetwork(const std::string& name);

  // The reader of the movie `key` in the version `signature` (what resolve() returned), or
  // null for local files and for remote versions no longer known.
  std::shared_ptr<ByteSource> bytesFor(const std::string& key, const FileSignature& signature) const;

  // The entries of a folder: local roots and remote bases merged (first wins per name), or
  // the folder at a full URL under a base.
  Result<std::vector<FolderEntry>> list(const std::string& folder);

  bool hasRemote() const { return remote_ != nullptr; }
  // Remote statistics (block cache, HTTP), or null JSON without remote bases.
  JsonValue remoteStatsJson() const;

 private:
  explicit MovieSources(MovieSourcesConfig config);
  Result<std::optional<ResolvedMovie>> fromOverlay(const std::string& relative) const;

  const MovieSourcesConfig config_;
  MovieRoots roots_;
  std::vector<MovieRoots> overlays_;  // one per overlay folder
  std::unique_ptr<RemoteArchive> remote_;
};

}  // namespace framewire
