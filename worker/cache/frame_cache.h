// FrameCache: a worker process's RAM tier of decoded output frames, LRU bounded in bytes,
// with single-flight fills.
//
// Entries are immutable CachedFrames held by shared_ptr. A reply that serves a hit points its
// payload parts into the entry's buffers (PayloadPart::owner holds the entry's image parts),
// so a hit copies no pixel: the ZeroMQ messages of the reply keep the buffers alive, also when
// the entry is evicted while the reply is still on its way.
//
// Byte accounting: an entry is charged what it pins, not just its pixel bytes: every payload
// part rounded up to whole 4 KiB pages plus one page (allocator and padding slack of the
// buffer behind it: swscale output, an encoded packet, a disk mapping), plus the entry's own
// bookkeeping and key. The caller makes sure parts do not pin more than that (frame_store.h
// compacts native outputs out of the decoder's buffer pool before inserting them). Entries are
// evicted least recently used first until the total fits the capacity; an entry larger than
// the whole capacity is not kept. Capacity 0 disables the tier (single-flight still works).
//
// How long a produced frame stays (Claim::fulfil): kept as usual, or not kept at all (waiters
// still get it).
//
// Single-flight: acquire() either finds the frame, or makes the caller its producer (a
// Claim), or tells it who is already producing it (a Flight to wait on). A producer must end
// its Claim with fulfil() or drop it (destruction); waiters then get the frame, or null and
// try again. Producers never wait while holding a claim (see FrameStore), so waits cannot
// form a cycle.
//
// Thread-safety: every method may be called concurrently; one mutex guards the index, and
// waiting happens outside it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "worker/output/output_image.h"

namespace framewire {

// One decoded output frame as the caches keep it: what a FrameHeader needs, and its pixels.
struct CachedFrame {
  int64_t index = 0;
  int64_t pts = 0;
  double time = 0;  // seconds from the first frame
  bool keyframe = false;
  OutputImage image;
};
using CachedFramePtr = std::shared_ptr<const CachedFrame>;

// What the RAM tier charges for keeping `frame` under a key of `key_bytes` bytes.
uint64_t pinnedBytes(const CachedFrame& frame, size_t key_bytes);

struct FrameCacheStats {
  uint64_t capacity_bytes = 0;
  uint64_t bytes = 0;          // charged bytes of the entries held now
  uint64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;
  uint64_t evicted_bytes = 0;
  uint64_t rejected = 0;       // frames too large for the whole capacity (not kept)
  uint64_t waits = 0;          // lookups that waited for another request producing the frame
  uint64_t abandoned = 0;      // claims dropped without a frame (the producer failed)
  uint64_t withdrawn = 0;      // claims ended without a frame for others (Claim::withdraw)
};

enum class Keep { kYes, kNo };

class FrameCache {
 public:
  class Flight;

  // The right to produce one frame, handed to exactly one caller per missing key.
  class Claim {
   public:
    Claim() = default;
    Claim(Claim&& other) noexcept;
    Claim& operator=(Claim&& other) noexcept;
    ~Claim();  // drops the claim unless fulfilled
    explicit operator bool() const { return cache_ != nullptr; }

    // Keeps `frame` as `keep` says (when it fits) and hands it to every waiter. Ends the claim.
    void fulfil(CachedFramePtr frame, Keep keep = Keep::kYes);
    // Gives up: the producer failed (waiters get null and try again). Ends the claim.
    void drop();
    // Ends the claim without a frame for anyone else: the producer wrote it only where its own
    // request needs it (a borrowed output). Waiters get null and produce it themselves.
    void withdraw();

   private:
    friend class FrameCache;
    Claim(FrameCache* cache, std::string key, std::shared_ptr<Flight> flight);
    void endWithoutFrame(bool failed);
    FrameCache* cache_ = nullptr;
    std::string key_;
    std::shared_ptr<Flight> flight_;
  };

  // Exactly one of the three is set.
  struct Acquired {
    CachedFramePtr frame;             // a hit
    Claim claim;                      // a miss nobody is producing: produce it
    std::shared_ptr<Flight> pending;  // a miss someone else is producing: wait(pending)
  };

  explicit FrameCache(uint64_t capacity_bytes);
  ~FrameCache();
  FrameCache(const FrameCache&) = delete;
  FrameCache& operator=(const FrameCache&) = delete;

  uint64_t capacity() const { return capacity_; }

  // Hit, claim or pending, counting a hit or a miss.
  Acquired acquire(const std::string& key);

  // Blocks until the producer of `flight` fulfils or drops it: the frame, or null.
  CachedFramePtr wait(const std::shared_ptr<Flight>& flight);

  // A lookup that never claims and counts nothing (see recordHits): for a caller that only
  // serves a request when every frame of it is here.
  CachedFramePtr peek(const std::string& key);
  void recordHits(uint64_t count);

  // True when `key` is kept; takes nothing, counts nothing, changes no recency.
  bool contains(const std::string& key) const;

  // Keeps `frame` under `key` (replacing an older entry), evicting as needed.
  void insert(const std::string& key, CachedFramePtr frame, Keep keep = Keep::kYes);

  FrameCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    CachedFramePtr frame;
    uint64_t charged = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first

  // Both under mutex_.
  CachedFramePtr findLocked(const std::string& key);
  void insertLocked(const std::string& key, CachedFramePtr frame, Keep keep);
  void eraseLocked(Lru::iterator entry);
  // A null `frame` counts as abandoned when the producer `failed`, else as withdrawn.
  void finishFlight(const std::string& key, const std::shared_ptr<Flight>& flight, CachedFramePtr frame, Keep keep,
                    bool failed = true);

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // views into Entry::key
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  FrameCacheStats stats_;
};

}  // namespace framewire
