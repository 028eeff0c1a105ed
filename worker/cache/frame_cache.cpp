#include "worker/cache/frame_cache.h"

namespace framewire {
namespace {

constexpr uint64_t kPage = 4096;
// The entry's bookkeeping: list and map nodes, the CachedFrame and its vectors and strings.
constexpr uint64_t kEntryOverhead = 512;

uint64_t roundUpToPages(uint64_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

}  // namespace

// One frame being produced: the producer publishes into it, waiters sleep on it.
class FrameCache::Flight {
 public:
  void publish(CachedFramePtr frame) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      frame_ = std::move(frame);
      done_ = true;
    }
    done_changed_.notify_all();
  }
  CachedFramePtr wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_changed_.wait(lock, [this] { return done_; });
    return frame_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  CachedFramePtr frame_;
};

uint64_t pinnedBytes(const CachedFrame& frame, size_t key_bytes) {
  uint64_t bytes = kEntryOverhead + key_bytes + frame.image.pixel_format.size();
  for (const PayloadPart& part : frame.image.parts) bytes += roundUpToPages(part.size) + kPage;
  return bytes;
}

// ---- Claim ------------------------------------------------------------------------------------

FrameCache::Claim::Claim(FrameCache* cache, std::string key, std::shared_ptr<Flight> flight)
    : cache_(cache), key_(std::move(key)), flight_(std::move(flight)) {}

FrameCache::Claim::Claim(Claim&& other) noexcept
    : cache_(other.cache_), key_(std::move(other.key_)), flight_(std::move(other.flight_)) {
  other.cache_ = nullptr;
}

FrameCache::Claim& FrameCache::Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    drop();
    cache_ = other.cache_;
    key_ = std::move(other.key_);
    flight_ = std::move(other.flight_);
    other.cache_ = nullptr;
  }
  return *this;
}

FrameCache::Claim::~Claim() { drop(); }

void FrameCache::Claim::fulfil(CachedFramePtr frame, Keep keep) {
  if (!cache_) return;
  FrameCache* cache = cache_;
  cache_ = nullptr;
  cache->finishFlight(key_, flight_, std::move(frame), keep);
}

void FrameCache::Claim::drop() { endWithoutFrame(/*failed=*/true); }

void FrameCache::Claim::withdraw() { endWithoutFrame(/*failed=*/false); }

void FrameCache::Claim::endWithoutFrame(bool failed) {
  if (!cache_) return;
  FrameCache* cache = cache_;
  cache_ = nullptr;
  cache->finishFlight(key_, flight_, nullptr, Keep::kNo, failed);
}

// ---- FrameCache -------------------------------------------------------------------------------

FrameCache::FrameCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {
  stats_.capacity_bytes = capacity_bytes;
}

FrameCache::~FrameCache() = default;

FrameCache::Acquired FrameCache::acquire(const std::string& key) {
  Acquired out;
  std::lock_guard<std::mutex> lock(mutex_);
  if (CachedFramePtr frame = findLocked(key)) {
    ++stats_.hits;
    out.frame = std::move(frame);
    return out;
  }
  ++stats_.misses;
  auto flying = flights_.find(key);
  if (flying != flights_.end()) {
    ++stats_.waits;
    out.pending = flying->second;
    return out;
  }
  auto flight = std::make_shared<Flight>();
  flights_.emplace(key, flight);
  out.claim = Claim(this, key, std::move(flight));
  return out;
}

CachedFramePtr FrameCache::wait(const std::shared_ptr<Flight>& flight) {
  return flight ? flight->wait() : nullptr;
}

CachedFramePtr FrameCache::peek(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  return findLocked(key);
}

bool FrameCache::contains(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index_.find(key) != index_.end();
}

void FrameCache::recordHits(uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.hits += count;
}

void FrameCache::insert(const std::string& key, CachedFramePtr frame, Keep keep) {
  if (!frame) return;
  std::lock_guard<std::mutex> lock(mutex_);
  insertLocked(key, std::move(frame), keep);
}

FrameCacheStats FrameCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

CachedFramePtr FrameCache::findLocked(const std::string& key) {
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, found->second);  // iterators (and the key's view) stay valid
  return found->second->frame;
}

void FrameCache::eraseLocked(Lru::iterator entry) {
  stats_.bytes -= entry->charged;
  --stats_.entries;
  index_.erase(std::string_view(entry->key));
  lru_.erase(entry);  // replies still sending it keep its buffers alive
}

void FrameCache::insertLocked(const std::string& key, CachedFramePtr frame, Keep keep) {
  if (capacity_ == 0 || keep == Keep::kNo) return;
  const uint64_t charged = pinnedBytes(*frame, key.size());
  if (charged > capacity_) {
    ++stats_.rejected;
    return;
  }
  auto existing = index_.find(key);
  if (existing != index_.end()) eraseLocked(existing->second);  // a newer production: keep the newer
  while (!lru_.empty() && stats_.bytes + charged > capacity_) {
    ++stats_.evictions;
    stats_.evicted_bytes += lru_.back().charged;
    eraseLocked(std::prev(lru_.end()));
  }
  lru_.push_front(Entry{key, std::move(frame), charged});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  stats_.bytes += charged;
  ++stats_.entries;
  ++stats_.inserts;
}

void FrameCache::finishFlight(const std::string& key, const std::shared_ptr<Flight>& flight,
                              CachedFramePtr frame, Keep keep, bool failed) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (frame) {
      insertLocked(key, frame, keep);
    } else if (failed) {
      ++stats_.abandoned;
    } else {
      ++stats_.withdrawn;
    }
    auto found = flights_.find(key);
    if (found != flights_.end() && found->second == flight) flights_.erase(found);
  }
  flight->publish(std::move(frame));
}

}  // namespace framewire
