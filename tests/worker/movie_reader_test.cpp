// MovieReader and FrameConverter below the request handler: exact frames in any order, and
// native output that points into the decoder's own buffers.
#include "worker/decode/movie_reader.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/output/frame_converter.h"

namespace framewire {
namespace {

std::shared_ptr<const MovieIndex> indexOf(const std::string& path) {
  auto index = MovieIndex::build(path, *fileSignature(path));
  EXPECT_TRUE(index.ok()) << index.status().toString();
  return index.ok() ? *index : nullptr;
}

std::string nativeMd5(FrameConverter& converter, const AVFrame& frame) {
  OutputSpec spec;
  spec.format = OutputFormat::kNative;
  auto geometry = outputGeometry(spec, frame.width, frame.height);
  auto image = converter.toRaw(frame, spec, *geometry);
  EXPECT_TRUE(image.ok()) << image.status().toString();
  if (!image.ok()) return "";
  const std::vector<uint8_t> bytes = testing::packedImage(*image);
  return testing::md5Hex(bytes.data(), bytes.size());
}

void expectExactInOrder(const std::string& movie, const std::vector<int64_t>& order, int threads) {
  const auto& oracle = testing::oracleMd5s(movie);
  auto index = indexOf(movie);
  ASSERT_TRUE(index);
  ASSERT_EQ(size_t(index->numFrames()), oracle.size());
  auto reader = MovieReader::open(index, threads);
  ASSERT_TRUE(reader.ok()) << reader.status().toString();
  FrameConverter converter(1);
  StageTimings timings;
  for (int64_t n : order) {
    auto frame = (*reader)->readFrame(n, &timings);
    ASSERT_TRUE(frame.ok()) << "frame " << n << ": " << frame.status().toString();
    EXPECT_EQ(nativeMd5(converter, **frame), oracle[size_t(n)]) << movie << " frame " << n;
  }
  EXPECT_GT(timings.decode_us, 0);
  // The index's seek points are right the first time: no landing is ever missed.
  EXPECT_EQ((*reader)->counters().retries, 0) << movie;
  EXPECT_EQ((*reader)->counters().frames, int64_t(order.size()));
}

std::vector<int64_t> shuffledFrames(int64_t count, unsigned seed) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t n = 0; n < count; ++n) order[size_t(n)] = n;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

TEST(MovieReaderTest, EveryH264FrameInRandomOrder) {
  expectExactInOrder(testing::h264BFramesMovie(), shuffledFrames(72, 1), 2);
}

TEST(MovieReaderTest, EveryOpenGopFrameInRandomOrderSingleThreaded) {
  expectExactInOrder(testing::openGopMp4Movie(), shuffledFrames(72, 2), 1);
}

TEST(MovieReaderTest, EveryHevcFrameBackwards) {
  std::vector<int64_t> order;
  for (int64_t n = 47; n >= 0; --n) order.push_back(n);
  expectExactInOrder(testing::hevc10Movie(), order, 2);
}

TEST(MovieReaderTest, DecodeScanMoviesGoForwardAndBack) {
  expectExactInOrder(testing::aviBFramesMovie(), {0, 5, 6, 29, 3, 3, 17}, 2);
}

TEST(MovieReaderTest, NativeOutputPointsIntoTheDecodersBuffers) {
  auto index = indexOf(testing::proresMovie());
  ASSERT_TRUE(index);
  auto reader = MovieReader::open(index, 2);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  auto frame = (*reader)->readFrame(7, &timings);
  ASSERT_TRUE(frame.ok());
  FrameConverter converter(1);
  OutputSpec spec;
  spec.format = OutputFormat::kNative;
  auto image = converter.toRaw(**frame, spec, *outputGeometry(spec, 320, 240));
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->pixel_format, "yuv422p10le");
  EXPECT_EQ(image->sample_bytes, 2);
  ASSERT_EQ(image->planes.size(), 3u);
  const AVFrame& decoded = **frame;
  for (size_t i = 0; i < 3; ++i) {
    const ImagePlane& plane = image->planes[i];
    const uint8_t* first_row = image->parts[plane.part].data + plane.offset;
    EXPECT_EQ(first_row, decoded.data[i]) << "plane " << i << " was copied";
    EXPECT_EQ(plane.stride, uint32_t(decoded.linesize[i]));
    bool inside = false;
    for (int b = 0; b < AV_NUM_DATA_POINTERS && decoded.buf[b]; ++b) {
      inside |= first_row >= decoded.buf[b]->data &&
                first_row + plane.stride * (plane.rows - 1) + plane.row_bytes <=
                    decoded.buf[b]->data + decoded.buf[b]->size;
    }
    EXPECT_TRUE(inside) << "plane " << i;
  }
  EXPECT_EQ(image->planes[0].row_bytes, 640u);
  EXPECT_EQ(image->planes[1].row_bytes, 320u);
  EXPECT_EQ(image->planes[1].rows, 240u);
  EXPECT_EQ(image->size, 320u * 240 * 2 * 2);
  // The parts keep the buffers alive after the frame and the reader are gone.
  const std::string before = nativeMd5(converter, **frame);
  std::vector<uint8_t> copy;
  for (const ImagePlane& plane : image->planes) {
    const PayloadPart& part = image->parts[plane.part];
    for (uint32_t row = 0; row < plane.rows; ++row) {
      const uint8_t* begin = part.data + plane.offset + uint64_t(row) * plane.stride;
      copy.insert(copy.end(), begin, begin + plane.row_bytes);
    }
  }
  frame = Status::internal("dropped");
  reader = Status::internal("closed");
  std::vector<uint8_t> after;
  for (const ImagePlane& plane : image->planes) {
    const PayloadPart& part = image->parts[plane.part];
    for (uint32_t row = 0; row < plane.rows; ++row) {
      const uint8_t* begin = part.data + plane.offset + uint64_t(row) * plane.stride;
      after.insert(after.end(), begin, begin + plane.row_bytes);
    }
  }
  EXPECT_EQ(copy, after);
  EXPECT_EQ(testing::md5Hex(after.data(), after.size()), before);
}

TEST(MovieReaderTest, SequentialReadsDecodeEachPacketOnceWithoutSeeking) {
  const std::string movie = testing::h264BFramesMovie();
  auto index = indexOf(movie);
  ASSERT_TRUE(index);
  auto reader = MovieReader::open(index, 2);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  for (int64_t n = 0; n < 72; ++n) ASSERT_TRUE((*reader)->readFrame(n, &timings).ok()) << n;
  EXPECT_EQ((*reader)->counters().seeks, 0);
  EXPECT_EQ((*reader)->counters().restarts, 0);
  EXPECT_EQ((*reader)->counters().packets, 72);
}

TEST(MovieReaderTest, IntraOnlyFramesCostOnePacketEach) {
  auto index = indexOf(testing::proresMovie());
  ASSERT_TRUE(index);
  auto reader = MovieReader::open(index, 2);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  const std::vector<int64_t> order = shuffledFrames(48, 3);
  for (int64_t n : order) ASSERT_TRUE((*reader)->readFrame(n, &timings).ok());
  EXPECT_EQ((*reader)->counters().packets, 48);
  EXPECT_EQ((*reader)->counters().retries, 0);
}

// A seek lands on the frame's own seek point, never a GOP early (mov's seek takes pts: a
// keyframe's dts would land one keyframe before it), and nothing before it is decoded.
TEST(MovieReaderTest, SeeksDecodeFromTheFramesOwnKeyframeOnly) {
  for (auto movie : {&testing::h264BFramesMovie, &testing::openGopMkvMovie, &testing::h264TsMovie,
                     &testing::longGopMovie}) {
    const std::string path = movie();
    auto index = indexOf(path);
    ASSERT_TRUE(index);
    auto reader = MovieReader::open(index, 1);
    ASSERT_TRUE(reader.ok());
    StageTimings timings;
    const auto order = shuffledFrames(index->numFrames(), 4);
    for (size_t i = 0; i < 24 && i < order.size(); ++i) {
      const int64_t n = order[i];
      const ReaderCounters before = (*reader)->counters();
      ASSERT_TRUE((*reader)->readFrame(n, &timings).ok()) << path << " frame " << n;
      const ReaderCounters& after = (*reader)->counters();
      if (after.seeks == before.seeks) continue;  // continued the pass
      const IndexedFrame& frame = index->frame(n);
      // From the seek point to the frame's packet, plus the decoder's reorder delay (x264
      // b-pyramid: up to 5 more); a GOP early would be 12 or 250 more.
      const int64_t needed = frame.packet - frame.seek_packet + 1;
      EXPECT_LE(after.packets - before.packets, needed + 6) << path << " frame " << n;
      EXPECT_EQ(after.retries, before.retries) << path << " frame " << n;
    }
    if (path.size() > 4 && path.substr(path.size() - 4) == ".mp4") {
      EXPECT_EQ((*reader)->counters().skipped_reads, 0) << path << ": the seek should land exactly";
    }
    // H.264: frames shown before the target may be dropped when nothing refers to them.
    EXPECT_GT((*reader)->counters().skippable, 0) << path;
  }
}

TEST(MovieReaderTest, PrefersContinuingOverSeeking) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  auto reader = MovieReader::open(index, 1);
  ASSERT_TRUE(reader.ok());
  StageTimings timings;
  ASSERT_TRUE((*reader)->readFrame(13, &timings).ok());
  // Ahead in the same GOP: cheaper than anything needing a seek.
  EXPECT_LT((*reader)->costToReach(15), (*reader)->costToReach(50));
  EXPECT_LT((*reader)->costToReach(15), (*reader)->costToReach(12));
}

}  // namespace
}  // namespace framewire
