// BlockCache: a worker process's cache of remote movie bytes, in fixed-size blocks, bounded in
// bytes (LRU), shared by all its decoders; fetches are single-flight.
//
// Why blocks: demuxers read small header pieces and large packets at arbitrary offsets; fixed
// blocks make those reads cacheable and let neighbouring reads (a frame's packet starting in
// the block where the previous one ended, the moov atom read in 32 KiB pieces) share fetches.
// A read of several missing blocks becomes one range request per contiguous run of missing
// blocks, so a 1 MB ProRes frame costs one round trip, not four.
//
// Single flight: a block that one thread is fetching is waited for by the others instead of
// being fetched twice. Read-ahead: a caller that reads sequentially passes how far it wants
// blocks fetched beyond what it needs now; they are added to the run being fetched (never
// waited for separately), so a sequential reader makes few, large requests.
//
// Nothing partial is ever cached: a fetch either returns every block of its run, complete,
// or fails, and then no block of it is inserted and the waiters get the failure. Files are
// identified by an id naming one version (RemoteFile hands out a new id per version), so
// blocks of a changed file are never mixed with the new one; forget() drops them early.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace framewire {

class BlockCache {
 public:
  using Block = std::shared_ptr<const std::vector<uint8_t>>;
  // Fetches blocks [first, first + count) of the file, in order, each block_size() bytes but
  // the file's last one. Called without any lock held.
  using Fetcher = std::function<Result<std::vector<Block>>(uint64_t first, uint64_t count)>;

  struct Stats {
    uint64_t capacity_bytes = 0;
    uint64_t block_size = 0;
    uint64_t bytes = 0;      // cached now
    uint64_t blocks = 0;     // cached now
    uint64_t hits = 0;       // blocks found cached
    uint64_t misses = 0;     // blocks fetched because a reader needed them
    uint64_t readahead = 0;  // blocks fetched ahead of need
    uint64_t joined = 0;     // blocks waited for while another reader fetched them
    uint64_t fetches = 0;    // Fetcher calls
    uint64_t failures = 0;   // Fetcher calls that failed
    uint64_t evictions = 0;
  };

  BlockCache(uint64_t capacity_bytes, uint64_t block_size);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // Blocks [first, last] of file `file`, fetching what is missing. When block `last` has to be
  // fetched, blocks last+1 .. readahead_last (not cached, not in flight) come along in the same
  // request. A failed fetch (own or joined) is returned as is.
  Result<std::vector<Block>> get(uint64_t file, uint64_t first, uint64_t last, uint64_t readahead_last,
                                 const Fetcher& fetch);

  // Drops every cached block of `file` (a changed file's old version: they would only age out).
  void forget(uint64_t file);

  uint64_t blockSize() const { return block_size_; }
  Stats stats() const;

 private:
  struct Key {
    uint64_t file;
    uint64_t index;
    bool operator==(const Key& other) const { return file == other.file && index == other.index; }
  };
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<uint64_t>()(key.file * 0x9E3779B97F4A7C15ull ^ key.index);
    }
  };
  struct Entry {
    Block block;
    std::list<Key>::iterator lru;
  };
  using Pending = std::shared_future<Result<Block>>;

  void insertLocked(const Key& key, Block block);
  void evictLocked();

  const uint64_t capacity_;
  const uint64_t block_size_;
  mutable std::mutex mutex_;
  std::list<Key> lru_;  // most recently used first
  std::unordered_map<Key, Entry, KeyHash> entries_;
  std::unordered_map<Key, Pending, KeyHash> pending_;
  uint64_t bytes_ = 0;
  Stats stats_;
};

}  // namespace framewire
