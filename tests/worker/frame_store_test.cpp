// FrameStore with a fake decoder: which tier each frame comes from, single-flight across
// concurrent requests (also overlapping batches, which must not deadlock), failures, the
// socket thread's all-or-nothing lookup, compaction of native outputs, and its stats.
#include "worker/cache/frame_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/test_movies.h"
#include "tests/worker/cache_test_support.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::fakeFrame;
using testing::pixelsOf;

// Decodes frame n as a fake frame after `delay`, counting calls per frame.
class FakeDecoder {
 public:
  explicit FakeDecoder(std::chrono::milliseconds delay = std::chrono::milliseconds(0)) : delay_(delay) {}
  FrameStore::Decode fn() {
    return [this](int64_t n, bool may_borrow) -> Result<FrameOutput> {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++calls_[n];
        may_borrow_.push_back(may_borrow);
      }
      std::this_thread::sleep_for(delay_);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        gate_changed_.wait(lock, [this] { return open_; });
      }
      if (failing_.count(n)) return Status::decodeError("frame " + std::to_string(n) + " is damaged");
      auto frame = fakeFrame(n, 64, 48, int(n));
      FrameOutput out;
      out.index = frame->index;
      out.pts = frame->pts;
      out.time = frame->time;
      out.keyframe = frame->keyframe;
      out.image = frame->image;
      out.stages.decode_us = 1000;
      out.borrowed = may_borrow && borrow_when_allowed_;
      return out;
    };
  }
  // Outputs say they are borrowed whenever the store allows it (as frames that went only into
  // a client's shared memory do).
  void borrowWhenAllowed() { borrow_when_allowed_ = true; }
  std::vector<bool> mayBorrow() {
    std::lock_guard<std::mutex> lock(mutex_);
    return may_borrow_;
  }
  int calls(int64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_[n];
  }
  int total() {
    std::lock_guard<std::mutex> lock(mutex_);
    int sum = 0;
    for (auto& [n, c] : calls_) sum += c;
    return sum;
  }
  void fail(int64_t n) { failing_.insert(n); }
  // While closed, decodes wait inside the decoder (after being counted).
  void setOpen(bool open) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = open;
    }
    gate_changed_.notify_all();
  }

 private:
  std::chrono::milliseconds delay_;
  std::mutex mutex_;
  std::condition_variable gate_changed_;
  bool open_ = true;
  std::map<int64_t, int> calls_;
  std::set<int64_t> failing_;
  std::vector<bool> may_borrow_;  // per decode call, in order
  bool borrow_when_allowed_ = false;
};

std::unique_ptr<FrameStore> openStore(uint64_t memory, const std::string& disk_dir = "") {
  FrameStoreConfig config;
  config.memory_bytes = memory;
  config.disk_dir = disk_dir;
  auto store = FrameStore::open(config);
  EXPECT_TRUE(store.ok()) << store.status().toString();
  return std::move(store).value();
}

std::vector<proto::CacheTier> tiersOf(const std::vector<FrameOutput>& outputs) {
  std::vector<proto::CacheTier> tiers;
  for (const auto& o : outputs) tiers.push_back(o.cached);
  return tiers;
}

constexpr auto kNone = proto::CacheTier::NONE;
constexpr auto kMemory = proto::CacheTier::MEMORY;
constexpr auto kDisk = proto::CacheTier::DISK;

TEST(FrameStoreTest, DecodesMissesAndServesHitsFromMemory) {
  auto store = openStore(64 << 20);
  FakeDecoder decoder;
  auto first = store->produce("prefix\n", {1, 2, 3}, false, decoder.fn());
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ(tiersOf(*first), (std::vector<proto::CacheTier>{kNone, kNone, kNone}));
  auto second = store->produce("prefix\n", {2, 3, 4}, false, decoder.fn());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(tiersOf(*second), (std::vector<proto::CacheTier>{kMemory, kMemory, kNone}));
  EXPECT_EQ(decoder.total(), 4);
  // A hit hands out the very buffer that was decoded: zero-copy.
  EXPECT_EQ((*second)[0].image.parts[0].data, (*first)[1].image.parts[0].data);
  EXPECT_EQ((*second)[0].index, 2);
  EXPECT_EQ((*second)[0].stages.decode_us, 0);
  // Another prefix (other movie version or output parameters) is another entry.
  auto other = store->produce("other\n", {2}, false, decoder.fn());
  EXPECT_EQ(tiersOf(*other), (std::vector<proto::CacheTier>{kNone}));
}

TEST(FrameStoreTest, OneRequestKeepsAtMostItsShareAndStreamsOutputsToReady) {
  auto store = openStore(64 << 20);
  FakeDecoder decoder;
  Admission admission;
  admission.max_bytes = 2 * 64 * 48;  // two fake frames' pixels (one byte a pixel)
  std::vector<int64_t> seen;
  auto ready = [&](size_t position, FrameOutput output) { seen.push_back(int64_t(position) * 100 + output.index); };
  auto first = store->produce("p\n", {1, 2, 3, 4}, false, decoder.fn(), ready, admission);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty()) << "outputs went to ready()";
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 102, 203, 304}));
  // Frames 1 and 2 were kept, 3 and 4 served but not kept.
  auto again = store->produce("p\n", {1, 2, 3, 4}, false, decoder.fn());
  EXPECT_EQ(tiersOf(*again), (std::vector<proto::CacheTier>{kMemory, kMemory, kNone, kNone}));
}

// Only frames no tier keeps may be borrowed (FrameOutput::borrowed: bytes in a client's shared
// memory, good for one request): past the request's share without a disk tier, or without any
// tier. A borrowed frame is never kept, nor given to another request waiting for it.
TEST(FrameStoreTest, OnlyFramesNoTierKeepsMayBeBorrowed) {
  {
    auto store = openStore(64 << 20);
    FakeDecoder decoder;
    decoder.borrowWhenAllowed();
    Admission admission;
    admission.max_bytes = 2 * 64 * 48;  // two fake frames
    ASSERT_TRUE(store->produce("p\n", {1, 2, 3, 4}, false, decoder.fn(), nullptr, admission).ok());
    EXPECT_EQ(decoder.mayBorrow(), (std::vector<bool>{false, false, true, true}));
    const JsonValue* memory = store->statsJson().get("memory");
    EXPECT_EQ(memory->get("withdrawn_fills")->asInt(), 2) << "the borrowed frames";
    EXPECT_EQ(memory->get("abandoned_fills")->asInt(), 0) << "no decode failed";
    auto again = store->produce("p\n", {1, 2, 3, 4}, false, decoder.fn());
    EXPECT_EQ(tiersOf(*again), (std::vector<proto::CacheTier>{kMemory, kMemory, kNone, kNone}));
    ASSERT_EQ(decoder.mayBorrow().size(), 6u);
    EXPECT_FALSE(decoder.mayBorrow()[4]) << "within the share again: kept, so owned";
  }
  {
    const std::string dir = testing::makeTempDir("fw-frame-store-borrow");
    auto store = openStore(64 << 20, dir);
    FakeDecoder decoder;
    Admission admission;
    admission.max_bytes = 0;
    ASSERT_TRUE(store->produce("p\n", {1, 2}, false, decoder.fn(), nullptr, admission).ok());
    EXPECT_EQ(decoder.mayBorrow(), (std::vector<bool>{false, false})) << "the disk tier keeps every frame";
  }
  // No tier: every frame may be borrowed, and a request waiting for a frame another one
  // borrowed decodes it itself.
  auto store = openStore(0);
  FakeDecoder decoder;
  decoder.borrowWhenAllowed();
  decoder.setOpen(false);
  std::thread first([&] {
    auto out = store->produce("p\n", {7}, false, decoder.fn());
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE((*out)[0].borrowed);
  });
  while (decoder.calls(7) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread second([&] {
    auto out = store->produce("p\n", {7}, false, decoder.fn());
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(tiersOf(*out), (std::vector<proto::CacheTier>{kNone}));
  });
  while (store->statsJson().get("memory")->get("single_flight_waits")->asInt() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // until the second request waits
  }
  EXPECT_EQ(decoder.calls(7), 1);
  decoder.setOpen(true);
  first.join();
  second.join();
  EXPECT_EQ(decoder.calls(7), 2);
}

TEST(FrameStoreTest, ConcurrentRequestsForTheSameFramesDecodeEachOnce) {
  auto store = openStore(256 << 20);
  FakeDecoder decoder(std::chrono::milliseconds(20));
  constexpr int kThreads = 8;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  std::vector<Result<std::vector<FrameOutput>>> results(kThreads, Status::internal("not run"));
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Overlapping batches, in different orders of arrival: must not deadlock either.
      std::vector<int64_t> frames = t % 2 ? std::vector<int64_t>{1, 2, 3, 4, 5} : std::vector<int64_t>{3, 4, 5, 6};
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      results[t] = store->produce("p\n", frames, false, decoder.fn());
    });
  }
  for (auto& thread : threads) thread.join();
  for (int64_t n = 1; n <= 6; ++n) EXPECT_EQ(decoder.calls(n), 1) << "frame " << n;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(results[t].ok()) << results[t].status().toString();
    for (const FrameOutput& out : *results[t]) {
      const auto expected = fakeFrame(out.index, 64, 48, int(out.index));
      CachedFrame got;
      got.image = out.image;
      EXPECT_EQ(pixelsOf(got), pixelsOf(*expected));
    }
  }
}

TEST(FrameStoreTest, AFailedDecodeIsReportedAndNotCached) {
  auto store = openStore(64 << 20);
  FakeDecoder decoder;
  decoder.fail(2);
  auto result = store->produce("p\n", {1, 2, 3}, false, decoder.fn());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDecodeError);
  EXPECT_EQ(decoder.calls(3), 0);  // the request stopped at its first failure
  auto again = store->produce("p\n", {1}, false, decoder.fn());
  EXPECT_EQ(tiersOf(*again), (std::vector<proto::CacheTier>{kMemory}));
  EXPECT_FALSE(store->produce("p\n", {2}, false, decoder.fn()).ok());
  EXPECT_EQ(decoder.calls(2), 2);
}

TEST(FrameStoreTest, FromMemoryServesOnlyWhenEveryFrameIsThere) {
  auto store = openStore(64 << 20);
  FakeDecoder decoder;
  EXPECT_FALSE(store->fromMemory("p\n", {1}).has_value());
  ASSERT_TRUE(store->produce("p\n", {1, 2}, false, decoder.fn()).ok());
  auto both = store->fromMemory("p\n", {1, 2});
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(tiersOf(*both), (std::vector<proto::CacheTier>{kMemory, kMemory}));
  EXPECT_FALSE(store->fromMemory("p\n", {1, 2, 3}).has_value());
  EXPECT_EQ(decoder.total(), 2);
  // Counted once per frame served, not for the lookups that fell through.
  JsonValue stats = store->statsJson();
  EXPECT_EQ(stats.get("memory")->get("hits")->asInt(), 2);
  EXPECT_EQ(stats.get("memory")->get("misses")->asInt(), 2);
}

TEST(FrameStoreTest, DiskTierFeedsMemoryAndSurvivesANewStore) {
  const std::string dir = testing::makeTempDir("fw-frame-store");
  FakeDecoder decoder;
  {
    auto store = openStore(64 << 20, dir);
    ASSERT_TRUE(store->produce("p\n", {7, 8}, false, decoder.fn()).ok());
  }
  auto store = openStore(64 << 20, dir);  // a restarted worker: RAM empty, disk kept
  auto got = store->produce("p\n", {7, 8, 9}, false, decoder.fn());
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(tiersOf(*got), (std::vector<proto::CacheTier>{kDisk, kDisk, kNone}));
  CachedFrame seven;
  seven.image = (*got)[0].image;
  EXPECT_EQ(pixelsOf(seven), pixelsOf(*fakeFrame(7, 64, 48, 7)));
  EXPECT_GE((*got)[0].stages.read_us, 0);
  // A disk hit moves into RAM: the next one is a memory hit.
  auto again = store->produce("p\n", {7}, false, decoder.fn());
  EXPECT_EQ(tiersOf(*again), (std::vector<proto::CacheTier>{kMemory}));
  EXPECT_EQ(decoder.total(), 3);
  JsonValue stats = store->statsJson();
  EXPECT_TRUE(stats.get("disk")->get("enabled")->asBool());
  EXPECT_EQ(stats.get("disk")->get("hits")->asInt(), 2);
  store.reset();
  fs::remove_all(dir);
}

// Polls `condition` (what another thread is about to do) for up to 10 s.
template <typename Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 10000 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return condition();
}

TEST(FrameStoreTest, WithoutTiersItStillDecodesOnceForConcurrentRequests) {
  auto store = openStore(0);
  EXPECT_FALSE(store->caching());
  FakeDecoder decoder;
  decoder.setOpen(false);
  std::thread first([&] { EXPECT_TRUE(store->produce("p\n", {1}, false, decoder.fn()).ok()); });
  ASSERT_TRUE(eventually([&] { return decoder.calls(1) == 1; }));  // `first` is decoding frame 1
  std::thread second([&] {
    auto got = store->produce("p\n", {1}, false, decoder.fn());
    ASSERT_TRUE(got.ok());
    EXPECT_EQ((*got)[0].cached, kMemory);  // the other request's frame, shared in memory
  });
  ASSERT_TRUE(eventually([&] { return store->statsJson().get("memory")->get("single_flight_waits")->asInt() == 1; }));
  decoder.setOpen(true);
  first.join();
  second.join();
  EXPECT_EQ(decoder.calls(1), 1);
  EXPECT_EQ(tiersOf(*store->produce("p\n", {1}, false, decoder.fn())), (std::vector<proto::CacheTier>{kNone}));
}

TEST(FrameStoreTest, CompactImageCopiesPartsIntoOneBuffer) {
  auto frame = fakeFrame(1, 32, 4, 5);
  auto second = fakeFrame(2, 16, 2, 9);
  frame->image.parts.push_back(second->image.parts[0]);
  ImagePlane plane = second->image.planes[0];
  plane.part = 1;
  frame->image.planes.push_back(plane);
  auto compact = compactImage(frame->image);
  ASSERT_TRUE(compact.ok());
  ASSERT_EQ(compact->parts.size(), 1u);
  EXPECT_EQ(compact->parts[0].size, 32u * 4 + 16u * 2);
  EXPECT_EQ(compact->planes[1].offset, 32u * 4);
  CachedFrame before, after;
  before.image = frame->image;
  after.image = *compact;
  EXPECT_EQ(pixelsOf(after), pixelsOf(before));
}

}  // namespace
}  // namespace framewire
