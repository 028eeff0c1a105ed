// MovieIndex: frame tables agree with a full decode (the framemd5 oracle), sources, seek points.
#include "worker/index/movie_index.h"

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
                      IndexCase{"h264_bframes", &testing::h264BFramesMovie, IndexSource::kContainerIndex},
                      IndexCase{"h264_open_gop_mp4", &testing::openGopMp4Movie, IndexSource::kContainerIndex},
                      IndexCase{"h264_open_gop_mkv", &testing::openGopMkvMovie, IndexSource::kPacketScan},
                      IndexCase{"h264_ts", &testing::h264TsMovie, IndexSource::kPacketScan},
                      IndexCase{"hevc10", &testing::hevc10Movie, IndexSource::kContainerIndex},
                      IndexCase{"odd_size", &testing::oddSizeMovie, IndexSource::kPacketScan},
                      IndexCase{"long_gop", &testing::longGopMovie, IndexSource::kContainerIndex},
                      IndexCase{"edit_list", &testing::editListMovie, IndexSource::kContainerIndex},
                      IndexCase{"audio_first", &testing::audioFirstMovie, IndexSource::kContainerIndex},
                      IndexCase{"avi_bframes", &testing::aviBFramesMovie, IndexSource::kDecodeScan},
                      IndexCase{"prores4444_alpha", &testing::prores4444AlphaMovie, IndexSource::kContainerIndex},
                      IndexCase{"hevc8_mkv", &testing::hevc8Movie, IndexSource::kPacketScan},
                      IndexCase{"vfr", &testing::vfrMovie, IndexSource::kContainerIndex},
                      IndexCase{"mpeg2_ts", &testing::mpeg2TsMovie, IndexSource::kPacketScan},
                      IndexCase{"mpeg4_mp4", &testing::mpeg4Mp4Movie, IndexSource::kContainerIndex},
                      IndexCase{"mpeg4_avi", &testing::mpeg4AviMovie, IndexSource::kDecodeScan},
                      IndexCase{"mjpeg_avi", &testing::mjpegAviMovie, IndexSource::kContainerIndex},
                      IndexCase{"vp9_webm", &testing::vp9WebmMovie, IndexSource::kPacketScan}),
    [](const auto& info) { return std::string(info.param.name); });

// The container index (FFmpeg's entries + our composition offsets) must give the very table a
// packet scan gives: same packets in decode order, same timestamps, positions and flags.
TEST(MovieIndexTest, ContainerIndexEqualsPacketScan) {
  for (auto movie : {&testing::proresMovie, &testing::h264BFramesMovie, &testing::openGopMp4Movie,
                     &testing::hevc10Movie, &testing::editListMovie, &testing::longGopMovie,
                     &testing::audioFirstMovie, &testing::prores4444AlphaMovie, &testing::vfrMovie,
                     &testing::mpeg4Mp4Movie, &testing::mjpegAviMovie}) {
    const std::string path = movie();
    auto container = indexOf(path);
    IndexBuildOptions scan_only;
    scan_only.container_index = false;
    auto scanned = MovieIndex::build(path, *fileSignature(path), scan_only);
    ASSERT_TRUE(container && scanned.ok()) << path;
    EXPECT_EQ(container->source(), IndexSource::kContainerIndex) << path;
    EXPECT_EQ((*scanned)->source(), IndexSource::kPacketScan) << path;
    ASSERT_EQ(container->numPackets(), (*scanned)->numPackets()) << path;
    for (int64_t d = 0; d < container->numPackets(); ++d) {
      const IndexedPacket& a = container->packet(d);
      const IndexedPacket& b = (*scanned)->packet(d);
      EXPECT_EQ(a.pts, b.pts) << path << " packet " << d;
      EXPECT_EQ(a.dts, b.dts) << path << " packet " << d;
      EXPECT_EQ(a.pos, b.pos) << path << " packet " << d;
      EXPECT_EQ(a.keyframe, b.keyframe) << path << " packet " << d;
      EXPECT_EQ(a.discard, b.discard) << path << " packet " << d;
    }
    ASSERT_EQ(container->numFrames(), (*scanned)->numFrames());
    for (int64_t n = 0; n < container->numFrames(); ++n) {
      EXPECT_EQ(container->frame(n).seek_packet, (*scanned)->frame(n).seek_packet) << path << " frame " << n;
    }
  }
}

uint64_t bytesReadByThisProcess() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

// Indexing a MOV/MP4 reads its moov atom (and a frame or so for the stream probe), not the
// movie: here movies of 8 MB and more made by looping the small test movies.
TEST(MovieIndexTest, IndexingAMovReadsItsMoovNotTheMovie) {
  const std::pair<std::string, int64_t> movies[] = {
      {testing::generateMovie("prores-looped-320x240.mov", "-stream_loop 7 -i '" + testing::proresMovie() + "' -c copy"),
       8 * 48},
      {testing::generateMovie("h264-looped-320x240.mp4",
                              "-stream_loop 31 -i '" + testing::h264BFramesMovie() + "' -c copy"),
       32 * 72}};
  for (const auto& [movie, frames] : movies) {
    const uint64_t before = bytesReadByThisProcess();
    auto index = indexOf(movie);
    const uint64_t read = bytesReadByThisProcess() - before;
    ASSERT_TRUE(index);
    EXPECT_EQ(index->source(), IndexSource::kContainerIndex) << movie;
    const uint64_t size = std::filesystem::file_size(movie);
    EXPECT_GT(size, uint64_t(8) << 20) << movie;
    EXPECT_LT(read, uint64_t(2) << 20) << movie << ": " << read << " of " << size << " bytes read";
    EXPECT_EQ(index->numFrames(), frames) << movie;  // the loops' frames (a full decode is slow here)
  }
}

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
