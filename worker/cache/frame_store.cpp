#include "worker/cache/frame_store.h"

#include <chrono>
#include <cstring>
#include <new>

#include "worker/cache/frame_cache_key.h"
#include "worker/stage_timings.h"

namespace framewire {
namespace {

using Clock = std::chrono::steady_clock;

FrameOutput outputOf(const CachedFrame& frame, proto::CacheTier tier) {
  FrameOutput out;
  out.index = frame.index;
  out.pts = frame.pts;
  out.time = frame.time;
  out.keyframe = frame.keyframe;
  out.image = frame.image;  // copies the part owners (shared_ptr), never the pixels
  out.cached = tier;
  return out;
}

CachedFramePtr cachedOf(const FrameOutput& output) {
  auto frame = std::make_shared<CachedFrame>();
  frame->index = output.index;
  frame->pts = output.pts;
  frame->time = output.time;
  frame->keyframe = output.keyframe;
  frame->image = output.image;
  return frame;
}

JsonValue memoryJson(const FrameCacheStats& s) {
  JsonValue j = JsonValue::object();
  j.set("capacity_bytes", JsonValue(s.capacity_bytes));
  j.set("bytes", JsonValue(s.bytes));
  j.set("entries", JsonValue(s.entries));
  j.set("hits", JsonValue(s.hits));
  j.set("misses", JsonValue(s.misses));
  j.set("inserts", JsonValue(s.inserts));
  j.set("evictions", JsonValue(s.evictions));
  j.set("evicted_bytes", JsonValue(s.evicted_bytes));
  j.set("rejected", JsonValue(s.rejected));
  j.set("single_flight_waits", JsonValue(s.waits));
  j.set("abandoned_fills", JsonValue(s.abandoned));
  j.set("withdrawn_fills", JsonValue(s.withdrawn));
  return j;
}

JsonValue diskJson(const DiskCacheStats* s) {
  JsonValue j = JsonValue::object();
  j.set("enabled", JsonValue(s != nullptr));
  if (!s) return j;
  j.set("dir", JsonValue(s->dir));
  j.set("capacity_bytes", JsonValue(s->capacity_bytes));
  j.set("bytes", JsonValue(s->bytes));
  j.set("entries", JsonValue(s->entries));
  j.set("hits", JsonValue(s->hits));
  j.set("misses", JsonValue(s->misses));
  j.set("damaged", JsonValue(s->damaged));
  j.set("writes", JsonValue(s->writes));
  j.set("written_bytes", JsonValue(s->written_bytes));
  j.set("write_errors", JsonValue(s->write_errors));
  j.set("dropped_writes", JsonValue(s->dropped_writes));
  j.set("pending_writes", JsonValue(s->pending_writes));
  j.set("evictions", JsonValue(s->evictions));
  j.set("evicted_bytes", JsonValue(s->evicted_bytes));
  j.set("scanned_entries", JsonValue(s->scanned_entries));
  return j;
}

}  // namespace

Result<OutputImage> compactImage(const OutputImage& image) {
  size_t total = 0;
  std::vector<uint64_t> part_start;
  for (const PayloadPart& part : image.parts) {
    part_start.push_back(total);
    total += part.size;
  }
  std::shared_ptr<uint8_t[]> buffer(new (std::nothrow) uint8_t[total > 0 ? total : 1]);
  if (!buffer) return Status::internal("out of memory keeping a frame in the cache");
  for (size_t i = 0; i < image.parts.size(); ++i) {
    if (image.parts[i].size > 0) std::memcpy(buffer.get() + part_start[i], image.parts[i].data, image.parts[i].size);
  }
  OutputImage compact = image;
  compact.parts.clear();
  PayloadPart part;
  part.data = buffer.get();
  part.size = total;
  part.owner = std::shared_ptr<const void>(buffer, buffer.get());
  compact.parts.push_back(std::move(part));
  for (ImagePlane& plane : compact.planes) {
    plane.offset += plane.part < part_start.size() ? part_start[plane.part] : 0;
    plane.part = 0;
  }
  return compact;
}

Result<std::unique_ptr<FrameStore>> FrameStore::open(const FrameStoreConfig& config) {
  std::unique_ptr<DiskCache> disk;
  if (!config.disk_dir.empty()) {
    DiskCacheOptions options;
    options.dir = config.disk_dir;
    options.capacity_bytes = config.disk_bytes;
    FW_ASSIGN_OR_RETURN(disk, DiskCache::open(std::move(options)));
  }
  return std::unique_ptr<FrameStore>(new FrameStore(config, std::move(disk)));
}

FrameStore::FrameStore(const FrameStoreConfig& config, std::unique_ptr<DiskCache> disk)
    : memory_(config.memory_bytes), disk_(std::move(disk)) {}

FrameStore::~FrameStore() = default;

void FrameStore::flush() {
  if (disk_) disk_->flush();
}

Result<std::vector<FrameOutput>> FrameStore::produce(const std::string& key_prefix,
                                                     const std::vector<int64_t>& frames, bool compact,
                                                     const Decode& decode, const Ready& ready,
                                                     Admission admission) {
  std::vector<std::optional<FrameOutput>> outputs(ready ? 0 : frames.size());
  auto deliver = [&](size_t position, FrameOutput output) {
    if (ready) {
      ready(position, std::move(output));
    } else {
      outputs[position] = std::move(output);
    }
  };
  struct Deferred {
    size_t position;
    std::string key;
    std::shared_ptr<FrameCache::Flight> flight;
  };
  std::vector<Deferred> deferred;
  uint64_t admitted = 0;

  for (size_t i = 0; i < frames.size(); ++i) {
    const Clock::time_point start = Clock::now();
    std::string key = frameCacheKey(key_prefix, frames[i]);
    FrameCache::Acquired got = memory_.acquire(key);
    if (got.frame) {
      FrameOutput out = outputOf(*got.frame, proto::CacheTier::MEMORY);
      out.total_us = microsecondsSince(start);
      deliver(i, std::move(out));
    } else if (got.pending) {
      deferred.push_back(Deferred{i, std::move(key), std::move(got.pending)});
    } else {
      FW_ASSIGN_OR_RETURN(FrameOutput out,
                          fill(key, frames[i], std::move(got.claim), compact, decode, admission, &admitted));
      deliver(i, std::move(out));
    }
  }

  // Frames other requests were producing: theirs by now, or ours to make if they failed.
  for (Deferred& d : deferred) {
    const Clock::time_point start = Clock::now();
    std::optional<FrameOutput> out;
    while (!out) {
      if (CachedFramePtr frame = memory_.wait(d.flight)) {
        out = outputOf(*frame, proto::CacheTier::MEMORY);
        break;
      }
      FrameCache::Acquired got = memory_.acquire(d.key);
      if (got.frame) {
        out = outputOf(*got.frame, proto::CacheTier::MEMORY);
      } else if (got.pending) {
        d.flight = std::move(got.pending);
      } else {
        FW_ASSIGN_OR_RETURN(out, fill(d.key, frames[d.position], std::move(got.claim), compact, decode,
                                      admission, &admitted));
      }
    }
    if (out->cached == proto::CacheTier::MEMORY) out->total_us = microsecondsSince(start);
    deliver(d.position, std::move(*out));
  }

  std::vector<FrameOutput> result;
  result.reserve(outputs.size());
  for (auto& output : outputs) result.push_back(std::move(*output));
  return result;
}

bool FrameStore::holds(const std::string& key_prefix, int64_t frame) {
  return memory_.contains(frameCacheKey(key_prefix, frame));
}

Result<FrameOutput> FrameStore::fill(const std::string& key, int64_t frame, FrameCache::Claim claim, bool compact,
                                     const Decode& decode, const Admission& admission, uint64_t* admitted) {
  const Clock::time_point start = Clock::now();
  auto keep = [&](const CachedFrame& made) {
    if (*admitted + made.image.size > admission.max_bytes) return Keep::kNo;
    *admitted += made.image.size;
    return Keep::kYes;
  };
  if (disk_) {
    if (CachedFramePtr stored = disk_->load(key)) {
      claim.fulfil(stored, keep(*stored));  // into the RAM tier: the next hit is cheaper still
      FrameOutput out = outputOf(*stored, proto::CacheTier::DISK);
      out.stages.read_us = microsecondsSince(start);
      out.total_us = out.stages.read_us;
      return out;
    }
  }
  // Frames past this request's share are not kept in RAM (nor on disk without that tier).
  const bool may_borrow = !disk_ && (!caching() || *admitted >= admission.max_bytes);
  FW_ASSIGN_OR_RETURN(FrameOutput out, decode(frame, may_borrow));  // on error the claim is dropped
  out.cached = proto::CacheTier::NONE;
  if (out.borrowed) {
    claim.withdraw();  // its waiters decode the frame themselves
    return out;
  }
  if (!caching()) {
    claim.fulfil(cachedOf(out));  // waiters still share it
    return out;
  }
  if (compact && memory_.capacity() > 0) {
    FW_ASSIGN_OR_RETURN(out.image, compactImage(out.image));
  }
  CachedFramePtr cached = cachedOf(out);
  claim.fulfil(cached, keep(*cached));
  if (disk_) disk_->store(key, std::move(cached));
  return out;
}

std::optional<std::vector<FrameOutput>> FrameStore::fromMemory(const std::string& key_prefix,
                                                               const std::vector<int64_t>& frames) {
  if (memory_.capacity() == 0) return std::nullopt;
  std::vector<FrameOutput> outputs;
  outputs.reserve(frames.size());
  for (const int64_t n : frames) {
    const Clock::time_point start = Clock::now();
    CachedFramePtr frame = memory_.peek(frameCacheKey(key_prefix, n));
    if (!frame) return std::nullopt;
    outputs.push_back(outputOf(*frame, proto::CacheTier::MEMORY));
    outputs.back().total_us = microsecondsSince(start);
  }
  memory_.recordHits(frames.size());
  return outputs;
}

JsonValue FrameStore::disabledStatsJson() {
  JsonValue j = JsonValue::object();
  j.set("memory", memoryJson(FrameCacheStats()));
  j.set("disk", diskJson(nullptr));
  return j;
}

JsonValue FrameStore::statsJson() const {
  JsonValue j = JsonValue::object();
  j.set("memory", memoryJson(memory_.stats()));
  if (disk_) {
    const DiskCacheStats disk = disk_->stats();
    j.set("disk", diskJson(&disk));
  } else {
    j.set("disk", diskJson(nullptr));
  }
  return j;
}

}  // namespace framewire
