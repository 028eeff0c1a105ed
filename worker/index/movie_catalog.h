// MovieCatalog: the per-process LRU cache of movie indexes (metadata + frame table).
//
// Keyed by the movie's canonical path; an entry is only valid for the file signature (size,
// mtime, inode) it was built from, so a replaced or rewritten movie is indexed again. When
// several threads ask for a movie that is not indexed yet, one builds and the others wait for
// its result instead of scanning the same file in parallel. Failures are not cached: a file
// being copied into place may be fine a moment later.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "worker/index/movie_index.h"

namespace framewire {

class MovieCatalog {
 public:
  using IndexResult = Result<std::shared_ptr<const MovieIndex>>;
  using Builder = std::function<IndexResult(const std::string& path, const FileSignature& signature)>;

  // Keeps at most `capacity` indexes (at least one). `builder` defaults to MovieIndex::build.
  explicit MovieCatalog(size_t capacity, Builder builder = {});

  // The index of the movie at `path` (canonical) as it is now, per `signature`.
  IndexResult get(const std::string& path, const FileSignature& signature);

  // The index of that movie if it is built already (and still matches `signature`), else
  // null; never builds or waits.
  std::shared_ptr<const MovieIndex> peek(const std::string& path, const FileSignature& signature);

  size_t size() const;

 private:
  struct Entry {
    FileSignature signature;
    std::shared_future<IndexResult> result;
    std::list<std::string>::iterator lru;  // position in lru_
    uint64_t generation = 0;
  };

  const size_t capacity_;
  const Builder builder_;
  mutable std::mutex mutex_;
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string, Entry> entries_;
  uint64_t next_generation_ = 1;
};

}  // namespace framewire
