#include "worker/source/remote/block_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace framewire {
namespace {

constexpr uint64_t kBlock = 100;

// A fake file: block i holds bytes of value (file * 16 + i) % 256. Records every fetch.
struct FakeFile {
  uint64_t id = 1;
  uint64_t blocks = 50;
  std::mutex mutex;
  std::vector<std::pair<uint64_t, uint64_t>> fetches;  // (first, count)
  std::atomic<bool> fail{false};

  BlockCache::Fetcher fetcher() {
    return [this](uint64_t first, uint64_t count) -> Result<std::vector<BlockCache::Block>> {
      {
        std::lock_guard<std::mutex> lock(mutex);
        fetches.emplace_back(first, count);
      }
      if (fail) return Status::unavailable("server down");
      std::vector<BlockCache::Block> out;
      for (uint64_t i = first; i < first + count; ++i) {
        out.push_back(std::make_shared<std::vector<uint8_t>>(kBlock, uint8_t((id * 16 + i) % 256)));
      }
      return out;
    };
  }
};

TEST(BlockCacheTest, FetchesMissingRunsOnceAndHitsAfterwards) {
  BlockCache cache(100 * kBlock, kBlock);
  FakeFile file;
  auto blocks = cache.get(file.id, 3, 6, 6, file.fetcher());
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks->size(), 4u);
  EXPECT_EQ((*(*blocks)[0])[0], uint8_t(16 + 3));
  EXPECT_EQ((*(*blocks)[3])[0], uint8_t(16 + 6));
  ASSERT_EQ(file.fetches.size(), 1u);  // one request for the whole run
  EXPECT_EQ(file.fetches[0], std::make_pair(uint64_t(3), uint64_t(4)));
  ASSERT_TRUE(cache.get(file.id, 4, 5, 5, file.fetcher()).ok());
  EXPECT_EQ(file.fetches.size(), 1u);
  // Blocks 2 and 7 are missing on both sides of cached ones: two runs, two requests.
  ASSERT_TRUE(cache.get(file.id, 2, 7, 7, file.fetcher()).ok());
  ASSERT_EQ(file.fetches.size(), 3u);
  EXPECT_EQ(file.fetches[1], std::make_pair(uint64_t(2), uint64_t(1)));
  EXPECT_EQ(file.fetches[2], std::make_pair(uint64_t(7), uint64_t(1)));
  const auto stats = cache.stats();
  EXPECT_EQ(stats.misses, 6u);
  EXPECT_EQ(stats.hits, 2u + 4u);
  EXPECT_EQ(stats.bytes, 6 * kBlock);
}

TEST(BlockCacheTest, ReadAheadRidesAlongWithAMissAtTheEnd) {
  BlockCache cache(100 * kBlock, kBlock);
  FakeFile file;
  ASSERT_TRUE(cache.get(file.id, 0, 1, 5, file.fetcher()).ok());
  ASSERT_EQ(file.fetches.size(), 1u);
  EXPECT_EQ(file.fetches[0], std::make_pair(uint64_t(0), uint64_t(6)));
  EXPECT_EQ(cache.stats().readahead, 4u);
  // Now cached: no fetch, even with read-ahead asked for (it only rides along with a miss).
  ASSERT_TRUE(cache.get(file.id, 2, 5, 9, file.fetcher()).ok());
  EXPECT_EQ(file.fetches.size(), 1u);
  // Read-ahead stops at the first cached block.
  ASSERT_TRUE(cache.get(file.id, 8, 8, 9, file.fetcher()).ok());
  ASSERT_TRUE(cache.get(file.id, 6, 6, 12, file.fetcher()).ok());
  EXPECT_EQ(file.fetches.back(), std::make_pair(uint64_t(6), uint64_t(2)));
}

TEST(BlockCacheTest, FailuresAreNotCachedAndReachWaiters) {
  BlockCache cache(100 * kBlock, kBlock);
  FakeFile file;
  file.fail = true;
  auto blocks = cache.get(file.id, 0, 3, 3, file.fetcher());
  ASSERT_FALSE(blocks.ok());
  EXPECT_EQ(blocks.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(cache.stats().blocks, 0u);
  file.fail = false;
  ASSERT_TRUE(cache.get(file.id, 0, 3, 3, file.fetcher()).ok());
  EXPECT_EQ(cache.stats().blocks, 4u);
  EXPECT_EQ(cache.stats().failures, 1u);
}

TEST(BlockCacheTest, ConcurrentReadersShareOneFetch) {
  BlockCache cache(100 * kBlock, kBlock);
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  BlockCache::Fetcher slow = [&](uint64_t first, uint64_t count) -> Result<std::vector<BlockCache::Block>> {
    ++calls;
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return release; });
    std::vector<BlockCache::Block> out;
    for (uint64_t i = 0; i < count; ++i) out.push_back(std::make_shared<std::vector<uint8_t>>(kBlock, uint8_t(first + i)));
    return out;
  };
  std::vector<std::thread> readers;
  std::atomic<int> good{0};
  readers.emplace_back([&] { good += cache.get(7, 0, 3, 3, slow).ok(); });
  // Let the first reader register its fetch, then start the others on the same blocks.
  while (calls.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      auto blocks = cache.get(7, 1, 2, 2, slow);
      good += blocks.ok() && (*(*blocks)[0])[0] == 1 && (*(*blocks)[1])[0] == 2;
    });
  }
  while (cache.stats().joined < 8) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  cv.notify_all();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(good.load(), 5);
  EXPECT_EQ(calls.load(), 1);
}

TEST(BlockCacheTest, StaysWithinItsBytesAndForgetsFiles) {
  BlockCache cache(10 * kBlock, kBlock);
  FakeFile a, b;
  b.id = 2;
  ASSERT_TRUE(cache.get(a.id, 0, 7, 7, a.fetcher()).ok());
  ASSERT_TRUE(cache.get(b.id, 0, 7, 7, b.fetcher()).ok());
  EXPECT_LE(cache.stats().bytes, 10 * kBlock);
  EXPECT_EQ(cache.stats().evictions, 6u);
  // The least recently used (a's first blocks) went first; b's are all there.
  ASSERT_TRUE(cache.get(b.id, 0, 7, 7, b.fetcher()).ok());
  EXPECT_EQ(b.fetches.size(), 1u);
  cache.forget(b.id);
  EXPECT_EQ(cache.stats().bytes, 2 * kBlock);
  // A file's blocks are its own: the same index of another file is another block.
  auto other = cache.get(a.id, 7, 7, 7, a.fetcher());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*(*other)[0])[0], uint8_t(16 + 7));
}

TEST(BlockCacheTest, AZeroCapacityCacheStillServesReads) {
  BlockCache cache(0, kBlock);
  FakeFile file;
  auto blocks = cache.get(file.id, 0, 2, 2, file.fetcher());
  ASSERT_TRUE(blocks.ok());
  EXPECT_EQ(blocks->size(), 3u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

}  // namespace
}  // namespace framewire
