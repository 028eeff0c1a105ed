// IndexStore: movie indexes kept in a state folder, so a restarted worker answers from the
// index it built before instead of reading the movie again (`--state-dir DIR`).
//
// One file per movie, DIR/index-v<format>/<XXH64 of the canonical path, 16 hex digits>.fwidx,
// in MovieIndexCodec's format. A stored index is used only when the file is intact (magic,
// format version, checksum) and describes this very movie: same path, same signature (size,
// mtime, inode) and same content hash (XXH64 of the movie's first and last 64 KiB, re-read on
// every load: a file rewritten in place with its old size and mtime restored is still
// caught). Anything else is ignored, and the next build overwrites it. Writes go to a
// temporary file that is renamed into place, so a reader never sees half a file, and a crash
// leaves at worst a stray temporary file (removed by the next save of that movie).
// Failing to write (read-only folder, full disk) is logged and costs only the next restart.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/index/movie_catalog.h"
#include "worker/index/movie_index.h"

namespace framewire {

class IndexStore {
 public:
  // Keeps indexes under `dir` (created when missing: INVALID_ARGUMENT when it cannot be).
  static Result<std::shared_ptr<IndexStore>> open(const std::string& dir);

  // The stored index of the movie at `path` as it is now; NOT_FOUND when there is none, or
  // DECODE_ERROR when the stored one is damaged or stale (the caller builds a new one).
  Result<std::shared_ptr<const MovieIndex>> load(const std::string& path, const FileSignature& signature);
  // Stores `index` (its path and signature say which movie it is).
  Status save(const MovieIndex& index);

  // A MovieCatalog builder: the stored index when usable, else `build`'s, stored for next time.
  // Only local files (absolute paths) are stored. A null `store` gives `build` itself.
  static MovieCatalog::Builder cachingBuilder(std::shared_ptr<IndexStore> store, MovieCatalog::Builder build);

  // XXH64 of the file's first and last 64 KiB and its size (UNAVAILABLE when unreadable).
  static Result<uint64_t> contentHash(const std::string& path);

  const std::string& folder() const { return folder_; }
  std::string fileFor(const std::string& movie_path) const;

  struct Counters {
    uint64_t loaded = 0;    // indexes served from the store
    uint64_t rejected = 0;  // stored files ignored (damaged, another version, stale)
    uint64_t saved = 0;
    uint64_t save_failures = 0;
  };
  Counters counters() const;

 private:
  explicit IndexStore(std::string folder) : folder_(std::move(folder)) {}
  Result<std::shared_ptr<const MovieIndex>> loadWithHash(const std::string& path, const FileSignature& signature,
                                                         uint64_t content_hash);
  Status saveWithHash(const MovieIndex& index, uint64_t content_hash);

  const std::string folder_;  // DIR/index-v<format>
  std::atomic<uint64_t> loaded_{0}, rejected_{0}, saved_{0}, save_failures_{0};
  std::atomic<uint64_t> temp_counter_{0};
};

}  // namespace framewire
