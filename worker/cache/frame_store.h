// FrameStore: where a request's output frames come from — the RAM tier, the disk tier, or the
// decoder — for one worker process, shared by all its connections.
//
// produce() walks a request's distinct frames in order. Each frame is, in this order:
// - a RAM hit (FrameHeader.cached = MEMORY): the reply's parts point into the cached entry;
// - being produced by another request right now: this request decodes its other frames first
//   and then takes that one from the other request (MEMORY) — a frame is decoded once however
//   many requests want it at the same time (single-flight);
// - a disk hit (DISK): mapped from its entry file, sent without a copy, and kept in the RAM
//   tier from then on;
// - decoded by the caller's `decode` (NONE), then kept in the RAM tier and queued for the
//   disk tier.
// A request holds at most one claim at a time and never waits while holding one, so two
// requests waiting for each other's frames cannot deadlock.
//
// Native outputs point into the decoder's frame pool; before such a frame is kept, its parts
// are copied into one buffer of its own (`compact`), so the cache never pins decoder buffers
// and charges exactly what it holds. Converted and encoded outputs are kept as they are.
//
// fromMemory() is the socket thread's shortcut: it serves a request only when every frame is
// in RAM, and never waits, decodes or touches the disk.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_value.h"
#include "common/status.h"
#include "worker/cache/disk_cache.h"
#include "worker/cache/frame_cache.h"
#include "worker/reply_builder.h"

namespace framewire {

// How one request's produced frames enter the RAM tier.
struct Admission {
  // Frames kept per request, in bytes; later frames are served but not kept, so one large
  // batch cannot flush what other clients use, and its buffers go back to the pool once sent
  // (fresh memory costs a page fault per 4 KiB: as much as a conversion).
  uint64_t max_bytes = UINT64_MAX;
};

struct FrameStoreConfig {
  uint64_t memory_bytes = 0;     // RAM tier capacity; 0 disables it
  std::string disk_dir;          // disk tier folder; empty disables it
  uint64_t disk_bytes = uint64_t(10) << 30;
};

class FrameStore {
 public:
  // `may_borrow`: the store will neither keep this output (RAM or disk) nor hand it to other
  // requests waiting for the frame, so it may be a borrowed one (FrameOutput::borrowed) and
  // save a copy; the store then gives the waiters nothing, and they decode it themselves.
  using Decode = std::function<Result<FrameOutput>(int64_t frame, bool may_borrow)>;
  // Takes each frame's output as soon as it is there: `position` in produce()'s `frames`.
  using Ready = std::function<void(size_t position, FrameOutput output)>;

  // Opens the disk tier when configured (its errors are returned: a bad folder, or a folder
  // another worker process holds).
  static Result<std::unique_ptr<FrameStore>> open(const FrameStoreConfig& config);
  ~FrameStore();

  // True when some tier keeps frames (otherwise produce() just decodes, still single-flight).
  bool caching() const { return memory_.capacity() > 0 || disk_ != nullptr; }

  // One FrameOutput per frame of `frames` (distinct, ascending), in that order. `key_prefix`
  // is frameCacheKeyPrefix() of the request; `compact` says the decoded outputs point into
  // decoder buffers (native format). `decode` is called for the frames no tier has, in
  // ascending order (except for a retry after another request failed to produce a frame);
  // its first error is returned. With `ready`, each output is handed to it as soon as it is
  // there (in ascending order, except for frames another request was producing: last), and
  // the returned vector is empty: a caller that streams frames out need not hold them all.
  Result<std::vector<FrameOutput>> produce(const std::string& key_prefix, const std::vector<int64_t>& frames,
                                           bool compact, const Decode& decode, const Ready& ready = nullptr,
                                           Admission admission = {});

  // Every frame from RAM, or nullopt when any is missing. Counts hits only when it serves.
  std::optional<std::vector<FrameOutput>> fromMemory(const std::string& key_prefix,
                                                     const std::vector<int64_t>& frames);

  // True when the RAM tier holds the frame; counts nothing.
  bool holds(const std::string& key_prefix, int64_t frame);

  // {"memory": {...}, "disk": {...}} with the tiers' counters.
  JsonValue statsJson() const;
  // The same shape for a worker without caches.
  static JsonValue disabledStatsJson();

  // Waits until queued disk writes are done (tests; the destructor also does it).
  void flush();

 private:
  explicit FrameStore(const FrameStoreConfig& config, std::unique_ptr<DiskCache> disk);
  // Produces one claimed frame from the disk tier or the decoder.
  // `admitted`: bytes this request has kept so far (see Admission).
  Result<FrameOutput> fill(const std::string& key, int64_t frame, FrameCache::Claim claim, bool compact,
                           const Decode& decode, const Admission& admission, uint64_t* admitted);

  FrameCache memory_;
  std::unique_ptr<DiskCache> disk_;
};

// `image` with all its parts copied into one new buffer (plane offsets adjusted).
Result<OutputImage> compactImage(const OutputImage& image);

}  // namespace framewire
