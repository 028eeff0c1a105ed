// DecoderPool: bounded LRU of open readers, exclusive checkout, best placed reader first.
#include "worker/decode/decoder_pool.h"

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"

namespace framewire {
namespace {

std::shared_ptr<const MovieIndex> indexOf(const std::string& path) {
  auto index = MovieIndex::build(path, *fileSignature(path));
  EXPECT_TRUE(index.ok()) << index.status().toString();
  return index.ok() ? *index : nullptr;
}

class DecoderPoolTest : public ::testing::Test {
 protected:
  DecoderPool::Opener opener() {
    return [this](std::shared_ptr<const MovieIndex> index) {
      ++opened_;
      return MovieReader::open(std::move(index), 1);
    };
  }
  int opened_ = 0;
};

TEST_F(DecoderPoolTest, ReusesIdleReadersAndGivesConcurrentUsersTheirOwn) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  DecoderPool pool(4, opener());
  {
    auto first = pool.checkout(index, 0);
    ASSERT_TRUE(first.ok());
    auto second = pool.checkout(index, 0);  // the first is busy
    ASSERT_TRUE(second.ok());
    EXPECT_NE(&**first, &**second);
    EXPECT_EQ(pool.openReaders(), 2u);
  }
  EXPECT_EQ(pool.idleReaders(), 2u);
  { auto again = pool.checkout(index, 0); }
  EXPECT_EQ(opened_, 2);
}

TEST_F(DecoderPoolTest, ChoosesTheReaderPositionedBestForTheFrame) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  DecoderPool pool(4, opener());
  StageTimings timings;
  MovieReader* at_40 = nullptr;
  {
    auto a = pool.checkout(index, 0);
    auto b = pool.checkout(index, 0);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->readFrame(5, &timings).ok());
    ASSERT_TRUE((*b)->readFrame(40, &timings).ok());
    at_40 = &**b;
  }
  auto lease = pool.checkout(index, 42);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(&**lease, at_40);
}

// Two clients reading one movie forward at different places, one request at a time each:
// each keeps a reader standing in its own pass, so neither ever seeks again.
TEST_F(DecoderPoolTest, InterleavedForwardReadersKeepTheirOwnDecoders) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  DecoderPool pool(4, opener());
  StageTimings timings;
  int64_t seeks = 0;
  for (int64_t step = 0; step < 10; ++step) {
    for (int64_t start : {2, 40}) {
      auto lease = pool.checkout(index, start + step);
      ASSERT_TRUE(lease.ok());
      const int64_t before = (*lease)->counters().seeks + (*lease)->counters().restarts;
      ASSERT_TRUE((*lease)->readFrame(start + step, &timings).ok());
      seeks += (*lease)->counters().seeks + (*lease)->counters().restarts - before;
    }
  }
  EXPECT_EQ(opened_, 2);
  EXPECT_LE(seeks, 1) << "each forward reader should keep its own positioned decoder";
  // Intra-only movies need no such thing: one reader serves both places.
  auto prores = indexOf(testing::proresMovie());
  DecoderPool intra(4, opener());
  opened_ = 0;
  for (int64_t step = 0; step < 5; ++step) {
    for (int64_t start : {2, 30}) {
      auto lease = intra.checkout(prores, start + step);
      ASSERT_TRUE(lease.ok());
      ASSERT_TRUE((*lease)->readFrame(start + step, &timings).ok());
    }
  }
  EXPECT_EQ(opened_, 1);
}

TEST_F(DecoderPoolTest, StaysWithinCapacityClosingLeastRecentlyUsed) {
  auto prores = indexOf(testing::proresMovie());
  auto h264 = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(prores && h264);
  DecoderPool pool(1, opener());
  { auto a = pool.checkout(prores, 0); }
  EXPECT_EQ(pool.openReaders(), 1u);
  { auto b = pool.checkout(h264, 0); }  // closes the ProRes reader
  EXPECT_EQ(pool.openReaders(), 1u);
  { auto c = pool.checkout(h264, 0); }
  EXPECT_EQ(opened_, 2);
  {
    // Over capacity while busy: opened anyway, trimmed when given back.
    auto d = pool.checkout(h264, 0);
    auto e = pool.checkout(h264, 0);
    ASSERT_TRUE(d.ok() && e.ok());
    EXPECT_EQ(pool.openReaders(), 2u);
  }
  EXPECT_EQ(pool.openReaders(), 1u);
}

TEST_F(DecoderPoolTest, DiscardedAndStaleReadersAreClosed) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  DecoderPool pool(4, opener());
  {
    auto lease = pool.checkout(index, 0);
    ASSERT_TRUE(lease.ok());
    lease->discard();
  }
  EXPECT_EQ(pool.openReaders(), 0u);
  { auto lease = pool.checkout(index, 0); }
  EXPECT_EQ(pool.idleReaders(), 1u);
  // The same movie re-indexed (a changed file): the old reader goes.
  auto reindexed = indexOf(testing::h264BFramesMovie());
  { auto lease = pool.checkout(reindexed, 0); }
  EXPECT_EQ(pool.idleReaders(), 1u);
  EXPECT_EQ(opened_, 3);
}

}  // namespace
}  // namespace framewire
