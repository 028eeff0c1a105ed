#include "worker/source/remote/block_cache.h"

#include <algorithm>
#include <exception>

namespace framewire {

BlockCache::BlockCache(uint64_t capacity_bytes, uint64_t block_size)
    : capacity_(capacity_bytes), block_size_(std::max<uint64_t>(1, block_size)) {
  stats_.capacity_bytes = capacity_;
  stats_.block_size = block_size_;
}

BlockCache::~BlockCache() = default;

BlockCache::Stats BlockCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats stats = stats_;
  stats.bytes = bytes_;
  stats.blocks = entries_.size();
  return stats;
}

void BlockCache::insertLocked(const Key& key, Block block) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {  // fetched twice (a forgotten race): keep the newer copy
    bytes_ -= it->second.block->size();
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  bytes_ += block->size();
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(block), lru_.begin()});
  evictLocked();
}

void BlockCache::evictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second.block->size();
    entries_.erase(it);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void BlockCache::forget(uint64_t file) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->file != file) {
      ++it;
      continue;
    }
    auto entry = entries_.find(*it);
    bytes_ -= entry->second.block->size();
    entries_.erase(entry);
    it = lru_.erase(it);
  }
}

Result<std::vector<BlockCache::Block>> BlockCache::get(uint64_t file, uint64_t first, uint64_t last,
                                                        uint64_t readahead_last, const Fetcher& fetch) {
  if (last < first) return std::vector<Block>();
  const size_t count = size_t(last - first + 1);
  std::vector<Block> blocks(count);
  std::vector<std::pair<size_t, Pending>> joined;       // (slot, future) fetched by others
  std::vector<uint64_t> mine;                            // block indices this call fetches
  std::vector<std::promise<Result<Block>>> promises;     // one per entry of `mine`
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint64_t index = first; index <= last; ++index) {
      const Key key{file, index};
      if (auto it = entries_.find(key); it != entries_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        blocks[size_t(index - first)] = it->second.block;
        ++stats_.hits;
      } else if (auto pending = pending_.find(key); pending != pending_.end()) {
        joined.emplace_back(size_t(index - first), pending->second);
        ++stats_.joined;
      } else {
        mine.push_back(index);
        ++stats_.misses;
      }
    }
    // Read-ahead rides along with a fetch that reaches the last needed block.
    if (!mine.empty() && mine.back() == last) {
      for (uint64_t index = last + 1; index <= readahead_last; ++index) {
        const Key key{file, index};
        if (entries_.count(key) || pending_.count(key)) break;
        mine.push_back(index);
        ++stats_.readahead;
      }
    }
    promises.resize(mine.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      pending_.emplace(Key{file, mine[i]}, promises[i].get_future().share());
    }
  }

  // Fetch our blocks in contiguous runs. Every promise is fulfilled on every path, so no
  // waiter can hang; on failure nothing of the run is inserted.
  Status failure;
  size_t run_start = 0;
  while (run_start < mine.size()) {
    size_t run_end = run_start + 1;
    while (run_end < mine.size() && mine[run_end] == mine[run_end - 1] + 1) ++run_end;
    const uint64_t run_first = mine[run_start];
    const uint64_t run_count = run_end - run_start;
    Result<std::vector<Block>> fetched = Status::internal("block fetch did not run");
    const bool attempted = failure.isOk();
    if (attempted) {
      try {
        fetched = fetch(run_first, run_count);
      } catch (const std::exception& e) {
        fetched = Status::internal(std::string("block fetch failed: ") + e.what());
      } catch (...) {
        fetched = Status::internal("block fetch failed");
      }
      if (fetched.ok() && fetched->size() != run_count) {
        fetched = Status::internal("block fetch returned " + std::to_string(fetched->size()) + " blocks, not " +
                                   std::to_string(run_count));
      }
    } else {
      fetched = failure;  // an earlier run failed: do not ask again, tell the waiters
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (attempted) {
        ++stats_.fetches;
        if (!fetched.ok()) ++stats_.failures;
      }
      for (size_t i = run_start; i < run_end; ++i) {
        const Key key{file, mine[i]};
        pending_.erase(key);
        if (fetched.ok()) {
          Block block = (*fetched)[i - run_start];
          insertLocked(key, block);
          promises[i].set_value(block);
          if (mine[i] <= last) blocks[size_t(mine[i] - first)] = std::move(block);
        } else {
          promises[i].set_value(fetched.status());
        }
      }
    }
    if (!fetched.ok() && failure.isOk()) failure = fetched.status();
    run_start = run_end;
  }
  if (!failure.isOk()) return failure;

  for (auto& [slot, future] : joined) {
    const Result<Block>& block = future.get();
    if (!block.ok()) return block.status();
    blocks[slot] = *block;
  }
  return blocks;
}

}  // namespace framewire
