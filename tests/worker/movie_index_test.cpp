// MovieIndex: frame tables agree with a full decode (the framemd5 oracle), sources, seek points.
#include "worker/movie_index.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"

extern "C" {
#include <libavutil/avutil.h>
}

namespace framewire {
namespace {

using testing::oracleMd5s;

std::shared_ptr<const MovieIndex> indexOf(const std::string& path) {
  auto signature = fileSignature(path);
  EXPECT_TRUE(signature.ok());
  auto index = MovieIndex::build(path, *signature);
  EXPECT_TRUE(index.ok()) << index.status().toString();
  return index.ok() ? *index : nullptr;
}

struct IndexCase {
  const char* name;
  std::string (*movie)();
  IndexSource source;
};

// Names the case in test listings (instead of gtest's byte dump).
void PrintTo(const IndexCase& c, std::ostream* out) { *out << c.name; }

class MovieIndexOracleTest : public ::testing::TestWithParam<IndexCase> {};

TEST_P(MovieIndexOracleTest, FrameCountMatchesFullDecode) {
  const std::string movie = GetParam().movie();
  auto index = indexOf(movie);
  ASSERT_TRUE(index);
  EXPECT_EQ(size_t(index->numFrames()), oracleMd5s(movie).size());
  EXPECT_EQ(index->source(), GetParam().source) << indexSourceName(index->source());
  // Frames are in presentation order with distinct timestamps.
  if (index->seekable()) {
    for (int64_t n = 1; n < index->numFrames(); ++n) {
      EXPECT_LT(index->frame(n - 1).pts, index->frame(n).pts);
    }
    for (int64_t n = 0; n < index->numFrames(); ++n) {
      EXPECT_EQ(index->frameWithPts(index->frame(n).pts), n);
      const IndexedFrame& frame = index->frame(n);
      // A seek point is a keyframe at or before the frame's packet, shown no later than it.
      if (frame.seek_packet >= 0) {
        EXPECT_LE(frame.seek_packet, frame.packet);
        EXPECT_TRUE(index->packet(frame.seek_packet).keyframe);
      }
    }
  }
  EXPECT_DOUBLE_EQ(index->secondsFromStart(index->frame(0).pts), 0.0);
  EXPECT_GT(index->metadata().duration, 0.0);
}

INSTANTIATE_TEST_SUITE_P(
    Movies, MovieIndexOracleTest,
    ::testing::Values(IndexCase{"prores", &testing::proresMovie, IndexSource::kContainerIndex},
                      // FFmpeg reads every moof of a seekable file at open: complete entries.
                      IndexCase{"prores_fragmented", &testing::fragmentedProresMovie, IndexSource::kContainerIndex},
                      IndexCase{"h264_bframes", &testing::h264BFramesMovie, IndexSource::kPacketScan},
                      IndexCase{"h264_open_gop_mp4", &testing::openGopMp4Movie, IndexSource::kPacketScan},
                      IndexCase{"h264_open_gop_mkv", &testing::openGopMkvMovie, IndexSource::kPacketScan},
                      IndexCase{"h264_ts", &testing::h264TsMovie, IndexSource::kPacketScan},
                      IndexCase{"hevc10", &testing::hevc10Movie, IndexSource::kPacketScan},
                      IndexCase{"odd_size", &testing::oddSizeMovie, IndexSource::kPacketScan},
                      IndexCase{"edit_list", &testing::editListMovie, IndexSource::kPacketScan},
                      IndexCase{"audio_first", &testing::audioFirstMovie, IndexSource::kContainerIndex},
                      IndexCase{"avi_bframes", &testing::aviBFramesMovie, IndexSource::kDecodeScan}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MovieIndexTest, ProResMetadata) {
  const std::string movie = testing::proresMovie();
  auto index = indexOf(movie);
  ASSERT_TRUE(index);
  const MovieMetadata& meta = index->metadata();
  EXPECT_EQ(index->numFrames(), 48);
  EXPECT_EQ(meta.width, 320);
  EXPECT_EQ(meta.height, 240);
  EXPECT_EQ(meta.codec, "prores");
  EXPECT_EQ(meta.pixel_format, "yuv422p10le");
  EXPECT_EQ(meta.bit_depth, 10);
  EXPECT_DOUBLE_EQ(meta.fps, 24.0);
  EXPECT_NEAR(meta.duration, 2.0, 1e-9);
  EXPECT_EQ(meta.keyframes, 48);
  EXPECT_EQ(meta.file_size, std::filesystem::file_size(movie));
  // Intra-only: every frame is its own seek point.
  for (int64_t n = 0; n < index->numFrames(); ++n) {
    EXPECT_EQ(index->frame(n).seek_packet, index->frame(n).packet);
  }
}

TEST(MovieIndexTest, H264KeyframesAndTimes) {
  auto index = indexOf(testing::h264BFramesMovie());
  ASSERT_TRUE(index);
  EXPECT_EQ(index->numFrames(), 72);
  EXPECT_EQ(index->metadata().keyframes, 6);  // GOP 12
  EXPECT_EQ(index->metadata().codec, "h264");
  EXPECT_EQ(index->frameAtTime(0.0), 0);
  EXPECT_EQ(index->frameAtTime(10.0 / 24.0), 10);
  EXPECT_EQ(index->frameAtTime(10.5 / 24.0), 10);
  EXPECT_EQ(index->frameAtTime(71.5 / 24.0), 71);
  EXPECT_EQ(index->frameAtTime(-0.01), -1);
  EXPECT_EQ(index->frameAtTime(3.0), -1);
  EXPECT_NEAR(index->secondsFromStart(index->frame(24).pts), 1.0, 1e-9);
}

TEST(MovieIndexTest, OpenGopLeadingFramesSeekToThePreviousKeyframe) {
  auto index = indexOf(testing::openGopMp4Movie());
  ASSERT_TRUE(index);
  int leading = 0;
  for (int64_t n = 0; n < index->numFrames(); ++n) {
    const IndexedFrame& frame = index->frame(n);
    ASSERT_GE(frame.seek_packet, 0);
    // The last keyframe decoded before this frame:
    int64_t last_key = frame.packet;
    while (!index->packet(last_key).keyframe) --last_key;
    if (index->packet(last_key).pts > frame.pts) {
      ++leading;  // shown before its keyframe: must start one keyframe earlier
      EXPECT_LT(frame.seek_packet, last_key);
    } else {
      EXPECT_EQ(frame.seek_packet, last_key);
    }
  }
  EXPECT_GT(leading, 0) << "the movie was meant to have open GOPs";
}

TEST(MovieIndexTest, EditListDiscardsAreNotFrames) {
  auto index = indexOf(testing::editListMovie());
  ASSERT_TRUE(index);
  int64_t discarded = 0;
  for (int64_t d = 0; d < index->numPackets(); ++d) discarded += index->packet(d).discard;
  EXPECT_GT(discarded, 0) << "the movie was meant to start inside a GOP";
  EXPECT_EQ(index->numFrames() + discarded, index->numPackets());
  // The first shown frame depends on a discarded keyframe.
  const IndexedFrame& first = index->frame(0);
  ASSERT_GE(first.seek_packet, 0);
  EXPECT_TRUE(index->packet(first.seek_packet).discard);
}

TEST(MovieIndexTest, NotAMovieIsADecodeError) {
  const std::string dir = testing::makeTempDir("fw-index");
  const std::string path = dir + "/text.mov";
  { std::ofstream(path) << "this is not a movie\n"; }
  auto signature = fileSignature(path);
  ASSERT_TRUE(signature.ok());
  auto index = MovieIndex::build(path, *signature);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kDecodeError);
  EXPECT_NE(index.status().message().find("Invalid data"), std::string::npos) << index.status().message();
  auto audio = MovieIndex::build(testing::audioOnlyMovie(), *fileSignature(testing::audioOnlyMovie()));
  ASSERT_FALSE(audio.ok());
  EXPECT_EQ(audio.status().code(), StatusCode::kDecodeError);
  EXPECT_NE(audio.status().message().find("no video stream"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace framewire
