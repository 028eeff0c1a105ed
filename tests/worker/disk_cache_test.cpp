// DiskCache and its entry format: round trips through a mapping, restarts, damaged entries,
// LRU eviction to size (also across restarts), leftovers of interrupted writes, one owner.
#include "worker/cache/disk_cache.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_movies.h"
#include "tests/worker/cache_test_support.h"
#include "worker/cache/disk_cache_entry.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::fakeFrame;
using testing::pixelsOf;

std::string key(int n) { return "framewire-frame v1\nmovie 5:/a/b\nframe " + std::to_string(n); }

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::makeTempDir("fw-disk-cache"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<DiskCache> open(uint64_t capacity = uint64_t(1) << 30) {
    DiskCacheOptions options;
    options.dir = dir_;
    options.capacity_bytes = capacity;
    auto cache = DiskCache::open(options);
    EXPECT_TRUE(cache.ok()) << cache.status().toString();
    return cache.ok() ? std::move(cache).value() : nullptr;
  }

  static std::vector<std::string> entryFiles(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& item : fs::recursive_directory_iterator(dir)) {
      if (item.is_regular_file() && item.path().extension() == ".fwf") files.push_back(item.path().string());
    }
    return files;
  }

  std::string dir_;
};

TEST(DiskCacheEntryTest, RoundTripsAFrameWithSeveralParts) {
  // Two parts, planes in both, with row padding: the entry puts them back to back.
  auto frame = fakeFrame(42, 16, 8, 3);
  std::shared_ptr<uint8_t[]> second(new uint8_t[40 * 4]);
  for (int i = 0; i < 160; ++i) second[i] = static_cast<uint8_t>(200 - i);
  PayloadPart part;
  part.owner = std::shared_ptr<const void>(second, second.get());
  part.data = second.get();
  part.size = 160;
  frame->image.parts.push_back(part);
  ImagePlane plane;
  plane.part = 1;
  plane.offset = 4;
  plane.stride = 40;
  plane.row_bytes = 30;
  plane.rows = 4;
  frame->image.planes.push_back(plane);

  const EncodedDiskEntry entry = encodeDiskEntry(key(42), *frame);
  EXPECT_EQ(entry.header.size() % 64, 0u);
  std::string file = entry.header;
  for (const PayloadPart& p : entry.payload) file.append(reinterpret_cast<const char*>(p.data), p.size);
  auto owner = std::make_shared<std::string>(file);
  auto data = reinterpret_cast<const uint8_t*>(owner->data());
  Result<CachedFramePtr> back = decodeDiskEntry(key(42), owner, data, owner->size());
  ASSERT_TRUE(back.ok()) << back.status().toString();
  const CachedFrame& got = **back;
  EXPECT_EQ(got.index, 42);
  EXPECT_EQ(got.pts, frame->pts);
  EXPECT_EQ(got.keyframe, frame->keyframe);
  EXPECT_DOUBLE_EQ(got.time, frame->time);
  EXPECT_EQ(got.image.width, 16);
  EXPECT_EQ(got.image.pixel_format, "gray");
  ASSERT_EQ(got.image.parts.size(), 1u);
  EXPECT_EQ(got.image.parts[0].data, data + entry.header.size());  // points into the file: no copy
  EXPECT_EQ(pixelsOf(got), pixelsOf(*frame));

  // Intact, but another key: a miss, not a damaged entry.
  Result<CachedFramePtr> other = decodeDiskEntry(key(43), owner, data, owner->size());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kNotFound);
}

TEST(DiskCacheEntryTest, EveryDamagedByteIsDetected) {
  auto frame = fakeFrame(1, 8, 6);
  const EncodedDiskEntry entry = encodeDiskEntry(key(1), *frame);
  std::string file = entry.header;
  for (const PayloadPart& p : entry.payload) file.append(reinterpret_cast<const char*>(p.data), p.size);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string damaged = file;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
    Result<CachedFramePtr> got =
        decodeDiskEntry(key(1), nullptr, reinterpret_cast<const uint8_t*>(damaged.data()), damaged.size());
    ASSERT_FALSE(got.ok()) << "a flipped bit at byte " << i << " went unnoticed";
    EXPECT_EQ(got.status().code(), StatusCode::kDecodeError) << "byte " << i << ": " << got.status().toString();
  }
  for (size_t size : {size_t(0), size_t(31), file.size() - 1}) {
    EXPECT_FALSE(decodeDiskEntry(key(1), nullptr, reinterpret_cast<const uint8_t*>(file.data()), size).ok());
  }
}

TEST_F(DiskCacheTest, StoresAndLoadsThroughAMapping) {
  auto cache = open();
  EXPECT_EQ(cache->load(key(1)), nullptr);
  auto frame = fakeFrame(1, 320, 240, 9);
  cache->store(key(1), frame);
  cache->flush();
  CachedFramePtr got = cache->load(key(1));
  ASSERT_NE(got, nullptr);
  EXPECT_NE(got->image.parts[0].data, frame->image.parts[0].data);
  EXPECT_EQ(pixelsOf(*got), pixelsOf(*frame));
  const DiskCacheStats stats = cache->stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.writes, 1u);
  EXPECT_EQ(stats.bytes % 4096, 0u);
  EXPECT_GE(stats.bytes, 320u * 240u);
  EXPECT_TRUE(fs::exists(cache->entryPath(key(1))));
  // The mapping stays usable after the entry file is gone.
  fs::remove(cache->entryPath(key(1)));
  EXPECT_EQ(pixelsOf(*got), pixelsOf(*frame));
}

TEST_F(DiskCacheTest, EntriesSurviveARestart) {
  auto frame = fakeFrame(5, 64, 48, 11);
  {
    auto cache = open();
    cache->store(key(5), frame);
  }  // the destructor writes what is queued
  auto cache = open();
  EXPECT_EQ(cache->stats().scanned_entries, 1u);
  CachedFramePtr got = cache->load(key(5));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(pixelsOf(*got), pixelsOf(*frame));
  EXPECT_EQ(got->index, 5);
}

TEST_F(DiskCacheTest, DamagedEntriesAreMissesAndDeleted) {
  auto cache = open();
  for (int n = 1; n <= 3; ++n) cache->store(key(n), fakeFrame(n, 64, 48, n));
  cache->flush();
  // 1: a flipped byte in the pixels; 2: truncated; 3: another entry's file in its place.
  {
    std::fstream f(cache->entryPath(key(1)), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-100, std::ios::end);
    f.put('\x7f');
  }
  fs::resize_file(cache->entryPath(key(2)), fs::file_size(cache->entryPath(key(2))) - 10);
  fs::copy_file(cache->entryPath(key(1)), cache->entryPath(key(3)), fs::copy_options::overwrite_existing);

  EXPECT_EQ(cache->load(key(1)), nullptr);
  EXPECT_EQ(cache->load(key(2)), nullptr);
  EXPECT_EQ(cache->load(key(3)), nullptr);
  EXPECT_FALSE(fs::exists(cache->entryPath(key(1))));
  EXPECT_FALSE(fs::exists(cache->entryPath(key(2))));
  const DiskCacheStats stats = cache->stats();
  EXPECT_EQ(stats.damaged, 3u);
  EXPECT_EQ(stats.hits, 0u);
  EXPECT_EQ(stats.entries, 0u);
  // Stored again, it is served again.
  auto fresh = fakeFrame(1, 64, 48, 1);
  cache->store(key(1), fresh);
  cache->flush();
  ASSERT_NE(cache->load(key(1)), nullptr);
  EXPECT_EQ(pixelsOf(*cache->load(key(1))), pixelsOf(*fresh));
}

TEST_F(DiskCacheTest, EvictsLeastRecentlyUsedToStayUnderItsSize) {
  // Each 64x48 entry takes one 4 KiB block on disk: room for three.
  auto cache = open(3 * 4096 + 100);
  for (int n = 1; n <= 3; ++n) cache->store(key(n), fakeFrame(n));
  cache->flush();
  ASSERT_NE(cache->load(key(1)), nullptr);  // 1 becomes the most recently used
  cache->store(key(4), fakeFrame(4));
  cache->flush();
  EXPECT_EQ(cache->load(key(2)), nullptr);  // the least recently used went
  EXPECT_NE(cache->load(key(1)), nullptr);
  EXPECT_NE(cache->load(key(3)), nullptr);
  EXPECT_NE(cache->load(key(4)), nullptr);
  const DiskCacheStats stats = cache->stats();
  EXPECT_LE(stats.bytes, 3 * 4096u + 100);
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_EQ(entryFiles(dir_).size(), 3u);
  // Too big for the whole cache: not written at all.
  cache->store(key(9), fakeFrame(9, 640, 480));
  cache->flush();
  EXPECT_EQ(cache->stats().dropped_writes, 1u);
}

TEST_F(DiskCacheTest, RestartWithASmallerSizeEvictsTheOldestFirst) {
  std::vector<std::string> paths;
  {
    auto cache = open();
    for (int n = 1; n <= 4; ++n) cache->store(key(n), fakeFrame(n));
    cache->flush();
    for (int n = 1; n <= 4; ++n) paths.push_back(cache->entryPath(key(n)));
  }
  // Use order by modification time (what hits refresh): 3 oldest, then 1, 4, 2.
  const int order[] = {3, 1, 4, 2};
  for (int i = 0; i < 4; ++i) {
    struct timeval times[2] = {{1000000 + i * 10, 0}, {1000000 + i * 10, 0}};
    ASSERT_EQ(::utimes(paths[order[i] - 1].c_str(), times), 0);
  }
  auto cache = open(2 * 4096);
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_EQ(cache->load(key(3)), nullptr);
  EXPECT_EQ(cache->load(key(1)), nullptr);
  EXPECT_NE(cache->load(key(4)), nullptr);
  EXPECT_NE(cache->load(key(2)), nullptr);
  EXPECT_EQ(entryFiles(dir_).size(), 2u);
}

TEST_F(DiskCacheTest, StartupRemovesLeftoversOfInterruptedWrites) {
  std::string entry_path;
  {
    auto cache = open();
    cache->store(key(1), fakeFrame(1));
    cache->flush();
    entry_path = cache->entryPath(key(1));
  }
  const std::string leftover = entry_path + ".tmp.12345.7";
  std::ofstream(leftover) << "half an entry";
  auto cache = open();
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_NE(cache->load(key(1)), nullptr);
}

TEST_F(DiskCacheTest, OneProcessOwnsAFolder) {
  auto first = open();
  DiskCacheOptions options;
  options.dir = dir_;
  auto second = DiskCache::open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
  first.reset();
  EXPECT_TRUE(DiskCache::open(options).ok());  // free again once the owner closed it
}

}  // namespace
}  // namespace framewire
