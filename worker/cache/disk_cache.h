// DiskCache: a worker process's persistent tier of output frames under a folder, LRU
// bounded in bytes, that survives restarts and never serves stale or damaged data.
//
// Layout: DIR/frames-v<kDiskEntryVersion>/<aa>/<32 hex digits>.fwf, one file per frame; the
// name is a 128-bit hash (two XXH64) of the frame cache key (frame_cache_key.h: movie path and
// signature, frame, every output parameter, versions), the file holds the key itself and a
// checksum (disk_cache_entry.h). So:
// - a movie that changed (size, mtime, inode) or other output parameters make other keys,
//   and old entries are never read again (they age out of the LRU);
// - a damaged entry (bit rot, a torn write after a crash, a truncated file) fails its
//   checksum or layout check: it is deleted and counted as a miss, never served;
// - writes go to a temporary file in the same folder, renamed into place when complete, so
//   readers see a whole entry or none. No fsync: after a power loss an entry may be torn, and
//   the checksum catches that.
//
// Reads map the file (mmap, read-only, prefaulted) and return a CachedFrame whose payload
// part points into the mapping: the reply sends it without a copy, and the mapping is
// unmapped when the last message referring to it is freed. Files are replaced by rename and
// deleted by unlink, never modified in place, so a mapping stays valid and unchanged even
// when its entry is evicted meanwhile.
//
// Writes are asynchronous: store() queues the frame (holding its buffers) for one writer
// thread, so a reply never waits for the disk; when more than max_pending_bytes are queued,
// further stores are dropped (counted). flush() waits for the queue to drain; the destructor
// flushes too, so a worker stopped with SIGTERM keeps what it decoded.
//
// Size: the sum of entry files, each rounded up to 4 KiB, stays within capacity_bytes. At
// startup the folder is scanned (files ordered by modification time, which every hit
// refreshes), leftovers of interrupted writes are removed and the oldest entries evicted to
// fit; afterwards an in-memory index answers misses without touching the disk. One process
// owns a folder at a time (an flock on DIR/frames-vN/.lock); a second one fails to open it.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "worker/cache/frame_cache.h"

namespace framewire {

struct DiskCacheOptions {
  std::string dir;
  uint64_t capacity_bytes = uint64_t(10) << 30;
  uint64_t max_pending_bytes = uint64_t(256) << 20;  // queued for writing; beyond: dropped
};

struct DiskCacheStats {
  std::string dir;               // the entries' folder
  uint64_t capacity_bytes = 0;
  uint64_t bytes = 0;            // entry files now, rounded up to 4 KiB each
  uint64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t damaged = 0;          // entries that failed their checks (deleted, counted as misses)
  uint64_t writes = 0;           // entries written
  uint64_t written_bytes = 0;
  uint64_t write_errors = 0;
  uint64_t dropped_writes = 0;   // stores refused: the write queue was full, or the frame too big
  uint64_t evictions = 0;
  uint64_t evicted_bytes = 0;
  uint64_t pending_writes = 0;   // queued now
  uint64_t scanned_entries = 0;  // found at startup
};

class DiskCache {
 public:
  // Creates the folder if needed, takes its lock, scans it. Errors: INVALID_ARGUMENT (not a
  // usable folder, or in use by another process).
  static Result<std::unique_ptr<DiskCache>> open(DiskCacheOptions options);
  ~DiskCache();  // writes what is queued, then stops
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The frame stored under `key`, its pixels in a mapping of the entry file; null on a miss
  // (nothing stored, or the entry was damaged: then it is deleted).
  CachedFramePtr load(const std::string& key);

  // Queues `frame` to be written under `key` (replacing an entry of the same key).
  void store(const std::string& key, CachedFramePtr frame);

  // Waits until everything stored so far is written (or failed).
  void flush();

  DiskCacheStats stats() const;

  // The entry file `key` is stored in (whether or not it exists); for tests and tools.
  std::string entryPath(const std::string& key) const;

 private:
  struct Indexed {
    uint64_t bytes = 0;
    std::list<std::string>::iterator lru;  // into lru_ (file names)
  };
  struct PendingWrite {
    std::string key;
    CachedFramePtr frame;
    uint64_t bytes = 0;
  };

  DiskCache(DiskCacheOptions options, std::string entries_dir, int lock_fd);
  void scan();
  void writerLoop();
  void write(const PendingWrite& pending);
  // Index maintenance, under mutex_. Victims' files are unlinked by the caller, unlocked.
  void touchLocked(const std::string& name);
  void addLocked(const std::string& name, uint64_t bytes);
  void forgetLocked(const std::string& name);
  std::vector<std::string> evictLocked();
  void unlinkAll(const std::vector<std::string>& names);

  std::string nameOf(const std::string& key) const;  // "<32 hex>"
  std::string pathOf(const std::string& name) const;

  const DiskCacheOptions options_;
  const std::string entries_dir_;
  const int lock_fd_;

  mutable std::mutex mutex_;
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string, Indexed> index_;
  DiskCacheStats stats_;

  std::condition_variable queue_changed_;
  std::deque<PendingWrite> queue_;
  uint64_t pending_bytes_ = 0;
  bool writing_ = false;  // the writer holds a popped entry
  bool stopping_ = false;
  std::atomic<uint64_t> temp_counter_{0};
  std::thread writer_;
};

}  // namespace framewire
