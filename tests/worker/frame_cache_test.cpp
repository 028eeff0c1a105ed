// FrameCache, the RAM tier: LRU eviction order, byte accounting, zero-copy hits that outlive
// eviction, and single-flight claims under concurrency.
#include "worker/cache/frame_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/worker/cache_test_support.h"

namespace framewire {
namespace {

using testing::fakeFrame;

std::string key(int n) { return "movie-key\nframe " + std::to_string(n); }

TEST(FrameCacheTest, ChargesWhatAnEntryPins) {
  auto frame = fakeFrame(1, 64, 48);  // 3072 pixel bytes in one part
  // The part rounded up to whole pages plus one page of slack, the entry's bookkeeping, the key.
  EXPECT_EQ(pinnedBytes(*frame, 10), 4096u + 4096u + 512u + 10u + frame->image.pixel_format.size());
  auto big = fakeFrame(2, 1000, 10);  // 10000 bytes -> 3 pages
  EXPECT_EQ(pinnedBytes(*big, 0), 3 * 4096u + 4096u + 512u + big->image.pixel_format.size());
}

TEST(FrameCacheTest, EvictsTheLeastRecentlyUsedEntriesAndCountsBytes) {
  const uint64_t charge = pinnedBytes(*fakeFrame(0), key(0).size());
  FrameCache cache(3 * charge);
  for (int n = 1; n <= 3; ++n) cache.insert(key(n), fakeFrame(n));
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().bytes, 3 * charge);

  ASSERT_NE(cache.acquire(key(1)).frame, nullptr);  // 1 is now the most recently used
  cache.insert(key(4), fakeFrame(4));               // evicts 2, the least recently used
  EXPECT_EQ(cache.peek(key(2)), nullptr);
  EXPECT_NE(cache.peek(key(1)), nullptr);
  EXPECT_NE(cache.peek(key(3)), nullptr);
  EXPECT_NE(cache.peek(key(4)), nullptr);
  cache.insert(key(5), fakeFrame(5));  // then 1: peek() refreshed 3 and 4 after it
  EXPECT_EQ(cache.peek(key(1)), nullptr);

  const FrameCacheStats stats = cache.stats();
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.bytes, 3 * charge);
  EXPECT_LE(stats.bytes, stats.capacity_bytes);
  EXPECT_EQ(stats.inserts, 5u);
  EXPECT_EQ(stats.evictions, 2u);
  EXPECT_EQ(stats.evicted_bytes, 2 * charge);
  EXPECT_EQ(stats.hits, 1u);

  // Replacing an entry does not count it twice.
  cache.insert(key(5), fakeFrame(5, 64, 48, 7));
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().bytes, 3 * charge);
}

TEST(FrameCacheTest, KeepModes) {
  FrameCache cache(64 << 20);
  cache.insert(key(1), fakeFrame(1), Keep::kNo);
  EXPECT_FALSE(cache.contains(key(1)));
  cache.insert(key(2), fakeFrame(2), Keep::kYes);
  EXPECT_TRUE(cache.contains(key(2)));
  EXPECT_TRUE(cache.contains(key(2))) << "contains() takes nothing";
  // A frame not kept still reaches the requests that waited for it.
  auto producer = cache.acquire(key(3));
  ASSERT_TRUE(producer.claim);
  auto waiter = cache.acquire(key(3));
  ASSERT_NE(waiter.pending, nullptr);
  producer.claim.fulfil(fakeFrame(3), Keep::kNo);
  auto got = cache.wait(waiter.pending);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->index, 3);
  EXPECT_FALSE(cache.contains(key(3)));
}

TEST(FrameCacheTest, KeepsNothingLargerThanItsCapacity) {
  FrameCache cache(pinnedBytes(*fakeFrame(0), 20));
  cache.insert(key(1), fakeFrame(1, 1920, 1080));
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().rejected, 1u);
  cache.insert(key(2), fakeFrame(2));
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST(FrameCacheTest, AHitSharesTheBufferAndOutlivesEviction) {
  const uint64_t charge = pinnedBytes(*fakeFrame(0), key(0).size());
  FrameCache cache(charge);
  std::weak_ptr<const void> buffer;
  auto frame = fakeFrame(1, 64, 48, 0, &buffer);
  const uint8_t* pixels = frame->image.parts[0].data;
  cache.insert(key(1), std::move(frame));

  CachedFramePtr hit = cache.acquire(key(1)).frame;
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->image.parts[0].data, pixels);  // the same bytes, not a copy
  cache.insert(key(2), fakeFrame(2));             // evicts 1 while the hit is in use
  EXPECT_EQ(cache.peek(key(1)), nullptr);
  EXPECT_FALSE(buffer.expired());                 // the reply still holds it
  EXPECT_EQ(hit->image.parts[0].data[5], 5);
  hit.reset();
  EXPECT_TRUE(buffer.expired());                  // and frees it when done
}

TEST(FrameCacheTest, ZeroCapacityKeepsNothingButStillSharesFills) {
  FrameCache cache(0);
  FrameCache::Acquired first = cache.acquire(key(1));
  ASSERT_TRUE(first.claim);
  FrameCache::Acquired second = cache.acquire(key(1));
  ASSERT_NE(second.pending, nullptr);
  first.claim.fulfil(fakeFrame(1));
  EXPECT_NE(cache.wait(second.pending), nullptr);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_TRUE(cache.acquire(key(1)).claim);  // not kept: the next lookup produces it again
}

TEST(FrameCacheTest, ConcurrentMissesOfOneFrameHaveOneProducer) {
  FrameCache cache(64 << 20);
  constexpr int kThreads = 8;
  std::atomic<int> claims{0}, waited{0};
  std::atomic<int> arrived{0};
  std::vector<CachedFramePtr> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ++arrived;
      while (arrived.load() < kThreads) std::this_thread::yield();
      FrameCache::Acquired got = cache.acquire(key(7));
      if (got.claim) {
        ++claims;
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // "decoding"
        auto frame = fakeFrame(7);
        results[t] = frame;
        got.claim.fulfil(frame);
      } else if (got.pending) {
        ++waited;
        results[t] = cache.wait(got.pending);
      } else {
        results[t] = got.frame;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(claims.load(), 1);
  for (const auto& result : results) {
    ASSERT_NE(result, nullptr);
    EXPECT_EQ(result, results[0]);  // everyone got the one production
  }
  EXPECT_EQ(cache.stats().inserts, 1u);
  EXPECT_EQ(cache.stats().waits, uint64_t(waited.load()));
}

TEST(FrameCacheTest, ADroppedClaimWakesWaitersToTryAgain) {
  FrameCache cache(64 << 20);
  FrameCache::Acquired producer = cache.acquire(key(3));
  ASSERT_TRUE(producer.claim);
  FrameCache::Acquired waiter = cache.acquire(key(3));
  ASSERT_NE(waiter.pending, nullptr);
  std::thread fail([claim = std::move(producer.claim)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    claim.drop();  // the decode failed
  });
  EXPECT_EQ(cache.wait(waiter.pending), nullptr);
  fail.join();
  EXPECT_EQ(cache.stats().abandoned, 1u);
  EXPECT_EQ(cache.stats().withdrawn, 0u);
  FrameCache::Acquired retry = cache.acquire(key(3));
  EXPECT_TRUE(retry.claim);  // the waiter may now produce it itself
  {
    FrameCache::Acquired destroyed = cache.acquire(key(4));
    ASSERT_TRUE(destroyed.claim);
  }  // a claim that goes out of scope is dropped too
  EXPECT_TRUE(cache.acquire(key(4)).claim);
  // A producer that keeps its frame to itself withdraws: waiters try again, nothing failed.
  const uint64_t abandoned = cache.stats().abandoned;
  FrameCache::Acquired keeper = cache.acquire(key(5));
  FrameCache::Acquired other = cache.acquire(key(5));
  ASSERT_NE(other.pending, nullptr);
  keeper.claim.withdraw();
  EXPECT_EQ(cache.wait(other.pending), nullptr);
  EXPECT_EQ(cache.stats().withdrawn, 1u);
  EXPECT_EQ(cache.stats().abandoned, abandoned);
}

}  // namespace
}  // namespace framewire
