// RequestHandler end to end, without sockets: requests in, reply headers and payloads out,
// checked against ffmpeg's own decode (framemd5 and rgb24 output).
#include "worker/request_handler.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"

namespace fs = std::filesystem;

namespace framewire {
namespace {

using testing::buildRequest;
using testing::md5Hex;
using testing::oracleMd5s;
using testing::oracleRgb24;
using testing::packedPixels;
using testing::replyOf;
using testing::RequestSpec;

std::string nameOf(const std::string& path) { return fs::path(path).filename().string(); }

class RequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::makeTempDir("fw-handler");
    config_.roots = {scratch_, testing::movieCacheDir()};
    config_.max_open_movies = 4;
    config_.decoder_threads = 2;
    config_.convert_threads = 2;
    handler_ = std::make_unique<RequestHandler>(config_);
  }
  void TearDown() override {
    handler_.reset();
    fs::remove_all(scratch_);
  }

  WorkerReply call(const RequestSpec& spec) {
    auto buffer = buildRequest(spec);
    return handler_->handle(*testing::requestOf(buffer), 1234, "test-worker");
  }

  // One FRAMES request; expects OK and returns the reply.
  WorkerReply frames(const std::string& movie, std::vector<int64_t> indices,
                     const std::string& format = "", const std::string& encoding = "") {
    RequestSpec spec;
    spec.movie = movie;
    spec.frames = std::move(indices);
    spec.format = format;
    spec.encoding = encoding;
    return call(spec);
  }

  proto::StatusCode statusOf(const RequestSpec& spec, std::string* message = nullptr) {
    WorkerReply reply = call(spec);
    const proto::Reply* header = replyOf(reply);
    if (!header) return proto::StatusCode::INTERNAL;
    if (message) *message = header->message() ? header->message()->str() : "";
    if (header->status() != proto::StatusCode::OK) {
      EXPECT_TRUE(reply.payload.empty());
    }
    return header->status();
  }

  std::string scratch_;
  RequestHandlerConfig config_;
  std::unique_ptr<RequestHandler> handler_;
};

// ---- frame identity against the oracle ----------------------------------------------------

struct MovieCase {
  const char* name;
  std::string (*movie)();
};

// Names the case in test listings (instead of gtest's byte dump).
void PrintTo(const MovieCase& c, std::ostream* out) { *out << c.name; }

class NativeOracleTest : public RequestHandlerTest, public ::testing::WithParamInterface<MovieCase> {};

TEST_P(NativeOracleTest, RandomBackwardFirstAndLastFramesMatchFramemd5) {
  const std::string path = GetParam().movie();
  const std::string movie = nameOf(path);
  const auto& oracle = oracleMd5s(path);
  ASSERT_GT(oracle.size(), 2u);
  const int64_t count = static_cast<int64_t>(oracle.size());
  std::vector<int64_t> order = {0, count - 1};
  std::mt19937 random(7);
  for (int i = 0; i < 8; ++i) order.push_back(std::uniform_int_distribution<int64_t>(0, count - 1)(random));
  for (int64_t n = count - 2; n >= std::max<int64_t>(0, count - 6); --n) order.push_back(n);  // backward
  for (int64_t n = count / 2; n < count / 2 + 3; ++n) order.push_back(n);                    // forward
  for (int64_t n : order) {
    WorkerReply reply = frames(movie, {n}, "native");
    const proto::Reply* header = replyOf(reply);
    ASSERT_TRUE(header);
    ASSERT_EQ(header->status(), proto::StatusCode::OK) << "frame " << n << ": " << header->message()->str();
    ASSERT_EQ(header->frames()->size(), 1u);
    const proto::FrameHeader* frame = header->frames()->Get(0);
    EXPECT_EQ(frame->index(), n);
    const std::vector<uint8_t> pixels = packedPixels(reply, *frame);
    EXPECT_EQ(frame->size(), pixels.size());
    EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracle[size_t(n)]) << movie << " frame " << n;
  }
  // The same frames as one batch, in the same (unsorted, repeating) order.
  WorkerReply batch = frames(movie, order, "native");
  const proto::Reply* header = replyOf(batch);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  ASSERT_EQ(header->frames()->size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const proto::FrameHeader* frame = header->frames()->Get(flatbuffers::uoffset_t(i));
    EXPECT_EQ(frame->index(), order[i]);
    const std::vector<uint8_t> pixels = packedPixels(batch, *frame);
    EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracle[size_t(order[i])]) << "batch entry " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Movies, NativeOracleTest,
    ::testing::Values(MovieCase{"prores", &testing::proresMovie},
                      MovieCase{"prores_fragmented", &testing::fragmentedProresMovie},
                      MovieCase{"h264_bframes", &testing::h264BFramesMovie},
                      MovieCase{"h264_open_gop_mp4", &testing::openGopMp4Movie},
                      MovieCase{"h264_open_gop_mkv", &testing::openGopMkvMovie},
                      MovieCase{"h264_ts", &testing::h264TsMovie},
                      MovieCase{"hevc10", &testing::hevc10Movie},
                      MovieCase{"odd_size", &testing::oddSizeMovie},
                      MovieCase{"long_gop", &testing::longGopMovie},
                      MovieCase{"edit_list", &testing::editListMovie},
                      MovieCase{"audio_first", &testing::audioFirstMovie},
                      MovieCase{"avi_bframes", &testing::aviBFramesMovie},
                      MovieCase{"prores4444_alpha", &testing::prores4444AlphaMovie},
                      MovieCase{"hevc8_mkv", &testing::hevc8Movie},
                      MovieCase{"vfr", &testing::vfrMovie},
                      MovieCase{"mpeg2_ts", &testing::mpeg2TsMovie},
                      MovieCase{"mpeg4_mp4", &testing::mpeg4Mp4Movie},
                      MovieCase{"mpeg4_avi", &testing::mpeg4AviMovie},
                      MovieCase{"mjpeg_avi", &testing::mjpegAviMovie},
                      MovieCase{"vp9_webm", &testing::vp9WebmMovie}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(RequestHandlerTest, NativeHeaderDescribesThePlanes) {
  WorkerReply reply = frames(nameOf(testing::proresMovie()), {3}, "native");
  const proto::Reply* header = replyOf(reply);
  ASSERT_EQ(header->status(), proto::StatusCode::OK);
  const proto::FrameHeader* frame = header->frames()->Get(0);
  EXPECT_EQ(frame->format()->str(), "native");
  EXPECT_EQ(frame->pixel_format()->str(), "yuv422p10le");
  EXPECT_EQ(frame->encoding()->str(), "raw");
  EXPECT_EQ(frame->sample_bytes(), 2);
  EXPECT_EQ(frame->width(), 320);
  EXPECT_EQ(frame->height(), 240);
  EXPECT_TRUE(frame->keyframe());
  ASSERT_EQ(frame->planes()->size(), 3u);
  EXPECT_EQ(frame->planes()->Get(0)->row_bytes(), 640u);
  EXPECT_EQ(frame->planes()->Get(1)->row_bytes(), 320u);
  EXPECT_EQ(frame->planes()->Get(2)->rows(), 240u);
  for (const PayloadPart& part : reply.payload) EXPECT_TRUE(part.owner);
}

// ---- converted formats ----------------------------------------------------------------------

TEST_F(RequestHandlerTest, Rgb24IsWithin40dBOfFfmpeg) {
  // The BT.709 movie checks that the frame's colour matrix is used, as ffmpeg does.
  for (const std::string& path : {testing::proresMovie(), testing::h264BFramesMovie(), testing::bt709Movie()}) {
    const auto& expected = oracleRgb24(path);
    const size_t frame_bytes = 320 * 240 * 3;
    ASSERT_GE(expected.size(), frame_bytes * 24);
    for (int64_t n : {23, 0, 17}) {
      WorkerReply reply = frames(nameOf(path), {n});  // default format: rgb24
      const proto::Reply* header = replyOf(reply);
      ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
      const proto::FrameHeader* frame = header->frames()->Get(0);
      EXPECT_EQ(frame->format()->str(), "rgb24");
      EXPECT_EQ(frame->pixel_format()->str(), "rgb24");
      ASSERT_EQ(frame->planes()->size(), 1u);
      EXPECT_EQ(frame->planes()->Get(0)->stride(), 960u);  // tightly packed
      const std::vector<uint8_t> pixels = packedPixels(reply, *frame);
      ASSERT_EQ(pixels.size(), frame_bytes);
      const double db = testing::psnr(pixels.data(), expected.data() + size_t(n) * frame_bytes, frame_bytes);
      EXPECT_GE(db, 40.0) << path << " frame " << n;
    }
  }
}

TEST_F(RequestHandlerTest, PackedFormatsHaveTheirShapes) {
  const std::string movie = nameOf(testing::h264BFramesMovie());
  struct Shape {
    const char* format;
    const char* pixel_format;
    uint32_t row_bytes;
    int sample_bytes;
  };
  std::map<std::string, std::vector<uint8_t>> pixels;
  for (const Shape& shape : {Shape{"rgb24", "rgb24", 960, 1}, Shape{"bgr24", "bgr24", 960, 1},
                             Shape{"rgba", "rgba", 1280, 1}, Shape{"gray8", "gray", 320, 1},
                             Shape{"gray16", "gray16le", 640, 2}}) {
    WorkerReply reply = frames(movie, {30}, shape.format);
    const proto::Reply* header = replyOf(reply);
    ASSERT_EQ(header->status(), proto::StatusCode::OK) << shape.format << ": " << header->message()->str();
    const proto::FrameHeader* frame = header->frames()->Get(0);
    EXPECT_EQ(frame->format()->str(), shape.format);
    EXPECT_EQ(frame->pixel_format()->str(), shape.pixel_format);
    EXPECT_EQ(frame->sample_bytes(), shape.sample_bytes);
    ASSERT_EQ(frame->planes()->size(), 1u);
    EXPECT_EQ(frame->planes()->Get(0)->row_bytes(), shape.row_bytes);
    EXPECT_EQ(frame->planes()->Get(0)->stride(), shape.row_bytes);
    EXPECT_EQ(frame->planes()->Get(0)->rows(), 240u);
    EXPECT_EQ(frame->size(), uint64_t(shape.row_bytes) * 240);
    pixels[shape.format] = packedPixels(reply, *frame);
  }
  // bgr24 is rgb24 with red and blue swapped; rgba is rgb24 with opaque alpha.
  const auto& rgb = pixels["rgb24"];
  const auto& bgr = pixels["bgr24"];
  const auto& rgba = pixels["rgba"];
  // (swscale's rgb24, bgr24 and rgba paths may round differently by a step or two.)
  for (size_t p = 0; p < 320 * 240; p += 97) {
    EXPECT_NEAR(rgb[3 * p], bgr[3 * p + 2], 2);
    EXPECT_NEAR(rgb[3 * p + 1], bgr[3 * p + 1], 2);
    EXPECT_NEAR(rgb[3 * p], rgba[4 * p], 2);
    EXPECT_EQ(rgba[4 * p + 3], 255);
  }
  // gray16 carries gray8 in its high byte (little endian), give or take rounding.
  const auto& gray8 = pixels["gray8"];
  const auto& gray16 = pixels["gray16"];
  for (size_t p = 0; p < 320 * 240; p += 97) EXPECT_NEAR(gray16[2 * p + 1], gray8[p], 1);
}

// ---- encodings ------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, EncodedImagesDecodeBack) {
  const std::string movie = nameOf(testing::proresMovie());
  WorkerReply raw = frames(movie, {11}, "rgb24");
  const std::vector<uint8_t> rgb = packedPixels(raw, *replyOf(raw)->frames()->Get(0));
  WorkerReply raw_bgr = frames(movie, {11}, "bgr24");
  const std::vector<uint8_t> bgr = packedPixels(raw_bgr, *replyOf(raw_bgr)->frames()->Get(0));
  WorkerReply raw_gray = frames(movie, {11}, "gray8");
  const std::vector<uint8_t> gray = packedPixels(raw_gray, *replyOf(raw_gray)->frames()->Get(0));
  WorkerReply raw_gray16 = frames(movie, {11}, "gray16");
  const std::vector<uint8_t> gray16 = packedPixels(raw_gray16, *replyOf(raw_gray16)->frames()->Get(0));

  struct Case {
    const char* format;
    const char* encoding;
    AVCodecID codec;
    AVPixelFormat decoded;
  };
  for (const Case& c : {Case{"rgb24", "png", AV_CODEC_ID_PNG, AV_PIX_FMT_RGB24},
                        Case{"bgr24", "bmp", AV_CODEC_ID_BMP, AV_PIX_FMT_BGR24},
                        Case{"rgb24", "jpeg", AV_CODEC_ID_MJPEG, AV_PIX_FMT_YUVJ420P},
                        Case{"gray16", "png", AV_CODEC_ID_PNG, AV_PIX_FMT_GRAY16BE},
                        Case{"rgba", "png", AV_CODEC_ID_PNG, AV_PIX_FMT_RGBA}}) {
    WorkerReply reply = frames(movie, {11}, c.format, c.encoding);
    const proto::Reply* header = replyOf(reply);
    ASSERT_EQ(header->status(), proto::StatusCode::OK) << c.encoding << ": " << header->message()->str();
    const proto::FrameHeader* frame = header->frames()->Get(0);
    EXPECT_EQ(frame->encoding()->str(), c.encoding);
    ASSERT_EQ(frame->planes()->size(), 1u);
    const proto::Plane* plane = frame->planes()->Get(0);
    EXPECT_EQ(plane->rows(), 1u);
    EXPECT_EQ(plane->row_bytes(), frame->size());
    EXPECT_EQ(plane->stride(), frame->size());
    const std::vector<uint8_t> file = packedPixels(reply, *frame);
    UniqueAVFrame decoded = testing::decodeImage(file, c.codec);
    ASSERT_TRUE(decoded) << c.encoding << " did not decode";
    EXPECT_EQ(decoded->width, 320);
    EXPECT_EQ(decoded->height, 240);
    EXPECT_EQ(decoded->format, c.decoded) << c.encoding;
    if (c.codec == AV_CODEC_ID_PNG && c.decoded == AV_PIX_FMT_RGB24) {
      EXPECT_EQ(testing::packedPlane0(*decoded, 960), rgb) << "png is lossless";
    } else if (c.codec == AV_CODEC_ID_BMP) {
      EXPECT_EQ(testing::packedPlane0(*decoded, 960), bgr) << "bmp is lossless";
    } else if (c.decoded == AV_PIX_FMT_GRAY16BE) {
      const auto big_endian = testing::packedPlane0(*decoded, 640);
      for (size_t p = 0; p < 320 * 240; p += 89) {
        EXPECT_EQ(big_endian[2 * p], gray16[2 * p + 1]);
        EXPECT_EQ(big_endian[2 * p + 1], gray16[2 * p]);
      }
    } else if (c.codec == AV_CODEC_ID_MJPEG) {
      const auto luma = testing::packedPlane0(*decoded, 320);
      EXPECT_GE(testing::psnr(luma.data(), gray.data(), gray.size()), 30.0);
    }
  }
  // Quality changes the size.
  RequestSpec low;
  low.movie = movie;
  low.frames = {11};
  low.encoding = "jpeg";
  low.quality = 10;
  RequestSpec high = low;
  high.quality = 100;
  WorkerReply small = call(low);
  WorkerReply large = call(high);
  EXPECT_LT(replyOf(small)->frames()->Get(0)->size(), replyOf(large)->frames()->Get(0)->size());
}

// ---- crop and resize ------------------------------------------------------------------------

TEST_F(RequestHandlerTest, CropAndResize) {
  const std::string movie = nameOf(testing::proresMovie());
  // Native crop on the chroma grid: zero-copy views whose pixels are the full frame's.
  WorkerReply full = frames(movie, {5}, "native");
  RequestSpec crop;
  crop.movie = movie;
  crop.frames = {5};
  crop.format = "native";
  crop.crop = proto::Rect(10, 21, 100, 50);
  WorkerReply cropped = call(crop);
  const proto::Reply* header = replyOf(cropped);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  const proto::FrameHeader* frame = header->frames()->Get(0);
  EXPECT_EQ(frame->width(), 100);
  EXPECT_EQ(frame->height(), 50);
  const proto::FrameHeader* whole = replyOf(full)->frames()->Get(0);
  for (int p = 0; p < 3; ++p) {
    const proto::Plane* c = frame->planes()->Get(p);
    const proto::Plane* w = whole->planes()->Get(p);
    const int x_bytes = (p == 0 ? 10 : 5) * 2;
    EXPECT_EQ(c->row_bytes(), uint32_t(p == 0 ? 200 : 100));
    EXPECT_EQ(c->rows(), 50u);
    for (uint32_t row = 0; row < c->rows(); ++row) {
      const uint8_t* a = cropped.payload[c->part()].data + c->offset() + row * c->stride();
      const uint8_t* b = full.payload[w->part()].data + w->offset() + (row + 21) * w->stride() + x_bytes;
      ASSERT_EQ(0, std::memcmp(a, b, c->row_bytes())) << "plane " << p << " row " << row;
    }
  }
  // Off the chroma grid is refused for native, fine for converted formats.
  crop.crop = proto::Rect(11, 21, 100, 50);
  std::string message;
  EXPECT_EQ(statusOf(crop, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("multiple of 2"), std::string::npos) << message;
  crop.format = "rgb24";
  WorkerReply rgb_crop = call(crop);
  ASSERT_EQ(replyOf(rgb_crop)->status(), proto::StatusCode::OK);
  EXPECT_EQ(replyOf(rgb_crop)->frames()->Get(0)->size(), 100u * 50 * 3);
  // Outside the frame.
  crop.crop = proto::Rect(300, 0, 100, 50);
  EXPECT_EQ(statusOf(crop, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("320x240"), std::string::npos) << message;

  // Resize keeping the aspect ratio, converted and native.
  for (const char* format : {"rgb24", "native", "gray8"}) {
    RequestSpec resize;
    resize.movie = movie;
    resize.frames = {5};
    resize.format = format;
    resize.width = 160;
    WorkerReply reply = call(resize);
    const proto::Reply* resized = replyOf(reply);
    ASSERT_EQ(resized->status(), proto::StatusCode::OK) << format << ": " << resized->message()->str();
    EXPECT_EQ(resized->frames()->Get(0)->width(), 160);
    EXPECT_EQ(resized->frames()->Get(0)->height(), 120);
    EXPECT_EQ(packedPixels(reply, *resized->frames()->Get(0)).size(), resized->frames()->Get(0)->size());
  }
  // Crop then resize, encoded.
  RequestSpec both;
  both.movie = movie;
  both.frames = {5};
  both.crop = proto::Rect(0, 0, 160, 120);
  both.width = 80;
  both.height = 80;
  both.encoding = "png";
  WorkerReply png = call(both);
  ASSERT_EQ(replyOf(png)->status(), proto::StatusCode::OK);
  UniqueAVFrame decoded = testing::decodeImage(packedPixels(png, *replyOf(png)->frames()->Get(0)), AV_CODEC_ID_PNG);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->width, 80);
  EXPECT_EQ(decoded->height, 80);
}

// ---- batches --------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, BatchesAnswerInRequestOrderAndShareDuplicates) {
  const std::string path = testing::h264BFramesMovie();
  const auto& oracle = oracleMd5s(path);
  const std::vector<int64_t> wanted = {50, 3, 71, 3, 0, 50, 26, 25, 3};
  WorkerReply reply = frames(nameOf(path), wanted, "native");
  const proto::Reply* header = replyOf(reply);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  ASSERT_EQ(header->frames()->size(), wanted.size());
  for (size_t i = 0; i < wanted.size(); ++i) {
    const proto::FrameHeader* frame = header->frames()->Get(flatbuffers::uoffset_t(i));
    EXPECT_EQ(frame->index(), wanted[i]);
    const auto pixels = packedPixels(reply, *frame);
    EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracle[size_t(wanted[i])]);
  }
  // Frame 3 asked three times: decoded once, the same parts each time.
  const auto* a = header->frames()->Get(1)->planes()->Get(0);
  const auto* b = header->frames()->Get(8)->planes()->Get(0);
  EXPECT_EQ(a->part(), b->part());
  // Each distinct frame once in the payload (native yuv420p here: one part per plane or fewer).
  EXPECT_LE(reply.payload.size(), 6u * 3);
  EXPECT_EQ(header->timings()->queue_us(), 1234);
}

// A streamed batch (PROTOCOL.md 3): runs of frames leave as PARTIALs while later frames decode;
// the PARTIALs and the final reply together hold exactly the frames of the request, in order.
TEST_F(RequestHandlerTest, StreamedBatchSendsRunsOfExactFramesInRequestOrder) {
  config_.stream_chunk_bytes = 1;  // every ready run leaves at once (up to the message limit)
  handler_ = std::make_unique<RequestHandler>(config_);
  const std::string path = testing::h264BFramesMovie();
  const auto& oracle = oracleMd5s(path);
  std::vector<int64_t> wanted;
  for (int64_t n = 20; n < 50; ++n) wanted.push_back(n);
  wanted.push_back(22);  // a duplicate, answered again in the final message
  RequestSpec spec;
  spec.movie = nameOf(path);
  spec.frames = wanted;
  spec.format = "native";
  spec.stream = true;
  auto buffer = buildRequest(spec);
  std::vector<WorkerReply> messages;
  auto send_partial = [&](WorkerReply partial) { messages.push_back(std::move(partial)); };
  WorkerReply last = handler_->handle(*testing::requestOf(buffer), 0, "test-worker", send_partial);
  messages.push_back(std::move(last));
  ASSERT_GT(messages.size(), 2u);
  EXPECT_LE(messages.size(), 16u);
  size_t position = 0;
  for (size_t m = 0; m < messages.size(); ++m) {
    const proto::Reply* header = replyOf(messages[m]);
    ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
    EXPECT_EQ(header->id(), 42u);
    EXPECT_EQ(header->more(), m + 1 < messages.size());
    EXPECT_EQ(header->position(), position);
    for (const proto::FrameHeader* frame : *header->frames()) {
      ASSERT_LT(position, wanted.size());
      EXPECT_EQ(frame->index(), wanted[position]);
      const auto pixels = packedPixels(messages[m], *frame);
      EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracle[size_t(frame->index())]);
      ++position;
    }
  }
  EXPECT_EQ(position, wanted.size());
}

TEST_F(RequestHandlerTest, StreamIsOnlyUsedWhenAskedForAndPossible) {
  config_.stream_chunk_bytes = 1;
  handler_ = std::make_unique<RequestHandler>(config_);
  const std::string movie = nameOf(testing::h264BFramesMovie());
  int partials = 0;
  auto count = [&](WorkerReply) { ++partials; };
  RequestSpec spec;
  spec.movie = movie;
  spec.frames = {1, 2, 3, 4};
  auto plain = buildRequest(spec);  // stream not asked for
  EXPECT_EQ(replyOf(handler_->handle(*testing::requestOf(plain), 0, "w", count))->frames()->size(), 4u);
  spec.stream = true;
  spec.frames = {5};  // one frame: nothing to stream
  auto single = buildRequest(spec);
  EXPECT_EQ(replyOf(handler_->handle(*testing::requestOf(single), 0, "w", count))->frames()->size(), 1u);
  spec.frames = {6, 7, 8};  // no sink (e.g. a caller that cannot stream)
  auto no_sink = buildRequest(spec);
  EXPECT_EQ(replyOf(handler_->handle(*testing::requestOf(no_sink), 0, "w"))->frames()->size(), 3u);
  EXPECT_EQ(partials, 0);
}

// An error after some PARTIALs went out ends the request with an error as its final message.
TEST_F(RequestHandlerTest, StreamedBatchEndsWithTheErrorWhenAFrameFails) {
  config_.stream_chunk_bytes = 1;
  handler_ = std::make_unique<RequestHandler>(config_);
  RequestSpec spec;
  spec.movie = nameOf(testing::h264BFramesMovie());
  spec.frames = {1, 2, 3, 100000};  // the last is out of range: refused before decoding
  spec.stream = true;
  int partials = 0;
  auto buffer = buildRequest(spec);
  WorkerReply last = handler_->handle(*testing::requestOf(buffer), 0, "w", [&](WorkerReply) { ++partials; });
  EXPECT_EQ(replyOf(last)->status(), proto::StatusCode::OUT_OF_RANGE);
  EXPECT_FALSE(replyOf(last)->more());
  EXPECT_EQ(partials, 0);
}

TEST_F(RequestHandlerTest, FramesByTime) {
  RequestSpec spec;
  spec.movie = nameOf(testing::h264BFramesMovie());
  spec.times = {0.0, 10.0 / 24.0, 2.99};
  WorkerReply reply = call(spec);
  const proto::Reply* header = replyOf(reply);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  ASSERT_EQ(header->frames()->size(), 3u);
  EXPECT_EQ(header->frames()->Get(0)->index(), 0);
  EXPECT_EQ(header->frames()->Get(1)->index(), 10);
  EXPECT_NEAR(header->frames()->Get(1)->time(), 10.0 / 24.0, 1e-9);
  EXPECT_EQ(header->frames()->Get(2)->index(), 71);
  spec.times = {3.5};
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OUT_OF_RANGE);
}

TEST_F(RequestHandlerTest, RefusesRepliesOverTheSizeLimit) {
  config_.max_reply_bytes = 320 * 240 * 3 * 4;  // four rgb24 frames
  config_.max_frames_per_request = 20;
  handler_ = std::make_unique<RequestHandler>(config_);
  const std::string movie = nameOf(testing::proresMovie());
  RequestSpec spec;
  spec.movie = movie;
  spec.frames = {0, 1, 2, 3};
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OK);
  spec.frames = {0, 1, 2, 3, 3, 3};  // duplicates cost nothing
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OK);
  spec.frames = {0, 1, 2, 3, 4};
  std::string message;
  EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("limit"), std::string::npos) << message;
  spec.frames.assign(21, 0);
  EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("at most 20"), std::string::npos) << message;
}

// ---- INFO -----------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, InfoDescribesTheMovie) {
  const std::string path = testing::h264BFramesMovie();
  RequestSpec spec;
  spec.kind = proto::RequestKind::INFO;
  spec.movie = nameOf(path);
  spec.id = 99;
  WorkerReply reply = call(spec);
  const proto::Reply* header = replyOf(reply);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  EXPECT_EQ(header->id(), 99u);
  EXPECT_EQ(header->worker()->str(), "test-worker");
  EXPECT_EQ(header->timings()->queue_us(), 1234);
  EXPECT_GE(header->timings()->total_us(), header->timings()->read_us());
  const proto::MovieInfo* info = header->info();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->movie()->str(), spec.movie);
  EXPECT_EQ(info->num_frames(), int64_t(oracleMd5s(path).size()));
  EXPECT_EQ(info->width(), 320);
  EXPECT_EQ(info->height(), 240);
  EXPECT_DOUBLE_EQ(info->fps(), 24.0);
  EXPECT_NEAR(info->duration(), 3.0, 1e-6);
  EXPECT_EQ(info->codec()->str(), "h264");
  EXPECT_EQ(info->pixel_format()->str(), "yuv420p");
  EXPECT_EQ(info->bit_depth(), 8);
  EXPECT_EQ(info->file_size(), fs::file_size(path));
  EXPECT_EQ(info->keyframes(), 6);
  EXPECT_GT(info->time_base_den(), 0);
  EXPECT_TRUE(reply.payload.empty());
}

TEST_F(RequestHandlerTest, ReplacedMovieIsIndexedAgain) {
  const fs::path movie = fs::path(scratch_) / "swap.mov";
  fs::copy_file(testing::proresMovie(), movie);
  RequestSpec spec;
  spec.kind = proto::RequestKind::INFO;
  spec.movie = "swap.mov";
  EXPECT_EQ(replyOf(call(spec))->info()->num_frames(), 48);
  fs::remove(movie);
  fs::copy_file(testing::h264BFramesMovie(), movie);
  EXPECT_EQ(replyOf(call(spec))->info()->num_frames(), 72);
  WorkerReply reply = frames("swap.mov", {70}, "native");
  const auto pixels = packedPixels(reply, *replyOf(reply)->frames()->Get(0));
  EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracleMd5s(testing::h264BFramesMovie())[70]);
}

// ---- LIST -----------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, ListsFoldersUnderTheRoots) {
  fs::create_directories(fs::path(scratch_) / "site" / "2016");
  { std::ofstream(fs::path(scratch_) / "site" / "a.mov") << "12345"; }
  { std::ofstream(fs::path(scratch_) / "site" / ".hidden") << "x"; }
  RequestSpec spec;
  spec.kind = proto::RequestKind::LIST;
  spec.movie = "site";
  WorkerReply reply = call(spec);
  const proto::Reply* header = replyOf(reply);
  ASSERT_EQ(header->status(), proto::StatusCode::OK) << header->message()->str();
  ASSERT_EQ(header->entries()->size(), 2u);
  EXPECT_EQ(header->entries()->Get(0)->name()->str(), "2016/");
  EXPECT_EQ(header->entries()->Get(1)->name()->str(), "a.mov");
  EXPECT_EQ(header->entries()->Get(1)->size(), 5u);
  spec.movie = "";  // the top merges both roots
  WorkerReply top = call(spec);
  bool has_site = false, has_prores = false;
  for (const auto* entry : *replyOf(top)->entries()) {
    has_site |= entry->name()->str() == "site/";
    has_prores |= entry->name()->str() == nameOf(testing::proresMovie());
  }
  EXPECT_TRUE(has_site);
  EXPECT_TRUE(has_prores);
  spec.movie = "nowhere";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::NOT_FOUND);
  spec.movie = "../..";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::FORBIDDEN);
}

// ---- bad input --------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, BadRequestsGetClearStatuses) {
  const std::string movie = nameOf(testing::proresMovie());
  std::string message;
  RequestSpec spec;
  spec.movie = movie;

  spec.frames = {48};
  EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::OUT_OF_RANGE);
  EXPECT_NE(message.find("0..47"), std::string::npos) << message;
  spec.frames = {-1};
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OUT_OF_RANGE);
  spec.frames = {};
  EXPECT_EQ(statusOf(spec), proto::StatusCode::INVALID_ARGUMENT);

  spec.frames = {1};
  spec.format = "yuv444p";
  EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("rgb24"), std::string::npos) << message;
  spec.format = "";
  spec.encoding = "tiff";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::INVALID_ARGUMENT);
  spec.encoding = "";

  spec.movie = "";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::INVALID_ARGUMENT);
  spec.movie = "no-such-movie.mov";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::NOT_FOUND);
  spec.movie = "../etc/passwd";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::FORBIDDEN);
  spec.movie = "/etc/passwd";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::FORBIDDEN);
  fs::create_symlink("/etc/passwd", fs::path(scratch_) / "escape.mov");
  spec.movie = "escape.mov";
  EXPECT_EQ(statusOf(spec), proto::StatusCode::FORBIDDEN);

  spec.movie = movie;
  spec.kind = proto::RequestKind::STATS;  // answered with the worker's statistics (frame_store_test)
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OK);
  spec.kind = static_cast<proto::RequestKind>(9);
  EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(message.find("unknown request kind"), std::string::npos);

  // Error replies carry the id, the worker and timings too.
  spec.kind = proto::RequestKind::FRAMES;
  spec.frames = {1000};
  spec.id = 77;
  WorkerReply reply = call(spec);
  const proto::Reply* header = replyOf(reply);
  EXPECT_EQ(header->id(), 77u);
  EXPECT_EQ(header->worker()->str(), "test-worker");
  ASSERT_TRUE(header->timings());
  EXPECT_EQ(header->timings()->queue_us(), 1234);
}

TEST_F(RequestHandlerTest, FilesThatAreNotMoviesAreDecodeErrors) {
  { std::ofstream(fs::path(scratch_) / "text.mov") << "just some text, not a movie\n"; }
  // A movie cut in half before its moov atom (ffmpeg writes moov at the end by default).
  const std::string h264 = testing::h264BFramesMovie();
  const auto size = fs::file_size(h264);
  fs::copy_file(h264, fs::path(scratch_) / "truncated.mp4");
  fs::resize_file(fs::path(scratch_) / "truncated.mp4", size / 2);
  for (const std::string& movie : {std::string("text.mov"), std::string("truncated.mp4"), nameOf(testing::audioOnlyMovie())}) {
    RequestSpec spec;
    spec.kind = proto::RequestKind::INFO;
    spec.movie = movie;
    std::string message;
    EXPECT_EQ(statusOf(spec, &message), proto::StatusCode::DECODE_ERROR) << movie;
    EXPECT_NE(message.find(movie), std::string::npos) << message;
    spec.kind = proto::RequestKind::FRAMES;
    spec.frames = {0};
    EXPECT_EQ(statusOf(spec), proto::StatusCode::DECODE_ERROR) << movie;
  }
  // The handler keeps serving afterwards.
  WorkerReply reply = frames(nameOf(testing::proresMovie()), {1}, "native");
  EXPECT_EQ(replyOf(reply)->status(), proto::StatusCode::OK);
}

TEST_F(RequestHandlerTest, TruncatedFastStartMovieNeverGivesAWrongFrame) {
  // moov first, then the samples, cut short: the index must not promise frames that are gone.
  const std::string faststart = testing::generateMovie(
      "prores-faststart-320x240.mov", "-i '" + testing::proresMovie() + "' -c copy -movflags +faststart");
  const auto& oracle = oracleMd5s(faststart);
  const fs::path cut = fs::path(scratch_) / "cut.mov";
  fs::copy_file(faststart, cut);
  fs::resize_file(cut, fs::file_size(faststart) * 6 / 10);
  RequestSpec spec;
  spec.kind = proto::RequestKind::INFO;
  spec.movie = "cut.mov";
  WorkerReply info = call(spec);
  ASSERT_EQ(replyOf(info)->status(), proto::StatusCode::OK) << replyOf(info)->message()->str();
  const int64_t count = replyOf(info)->info()->num_frames();
  EXPECT_GT(count, 10);
  EXPECT_LT(count, 48);
  for (int64_t n = 0; n < count; n += 3) {
    WorkerReply reply = frames("cut.mov", {n}, "native");
    const proto::Reply* header = replyOf(reply);
    if (header->status() == proto::StatusCode::OK) {
      const auto pixels = packedPixels(reply, *header->frames()->Get(0));
      EXPECT_EQ(md5Hex(pixels.data(), pixels.size()), oracle[size_t(n)]) << "frame " << n;
    } else {
      EXPECT_EQ(header->status(), proto::StatusCode::DECODE_ERROR) << "frame " << n;
    }
  }
  spec.kind = proto::RequestKind::FRAMES;
  spec.frames = {count};
  EXPECT_EQ(statusOf(spec), proto::StatusCode::OUT_OF_RANGE);
}

TEST_F(RequestHandlerTest, DamagedMoviesNeverCrashOrHang) {
  std::mt19937 random(5);
  for (const std::string& path : {testing::h264BFramesMovie(), testing::proresMovie()}) {
    const std::string name = "damaged-" + nameOf(path);
    const fs::path damaged = fs::path(scratch_) / name;
    fs::copy_file(path, damaged);
    const auto size = fs::file_size(damaged);
    {
      // Garbage over a few stretches of the sample data (the moov atom is at the end).
      std::fstream file(damaged, std::ios::in | std::ios::out | std::ios::binary);
      for (double at : {0.3, 0.5, 0.7}) {
        file.seekp(std::streamoff(double(size) * at));
        for (int i = 0; i < 3000; ++i) file.put(char(random()));
      }
    }
    RequestSpec info;
    info.kind = proto::RequestKind::INFO;
    info.movie = name;
    WorkerReply reply = call(info);
    ASSERT_EQ(replyOf(reply)->status(), proto::StatusCode::OK) << replyOf(reply)->message()->str();
    const int64_t count = replyOf(reply)->info()->num_frames();
    const auto& oracle = oracleMd5s(path);
    int exact = 0;
    for (int64_t n = count - 1; n >= 0; n -= 2) {
      WorkerReply frame_reply = frames(name, {n}, "native");
      const proto::Reply* header = replyOf(frame_reply);
      ASSERT_TRUE(header->status() == proto::StatusCode::OK ||
                  header->status() == proto::StatusCode::DECODE_ERROR)
          << name << " frame " << n << ": " << header->message()->str();
      if (header->status() == proto::StatusCode::OK) {
        const auto pixels = packedPixels(frame_reply, *header->frames()->Get(0));
        exact += md5Hex(pixels.data(), pixels.size()) == oracle[size_t(n)];
      }
    }
    EXPECT_GT(exact, 0) << "frames before the damage still decode exactly";
  }
}

// ---- concurrency ------------------------------------------------------------------------------

TEST_F(RequestHandlerTest, ConcurrentRequestsOnOneMovieStayExact) {
  config_.max_open_movies = 2;  // fewer readers than threads: some are opened beyond the limit
  handler_ = std::make_unique<RequestHandler>(config_);
  const std::string path = testing::h264BFramesMovie();
  const auto& oracle = oracleMd5s(path);
  const std::string movie = nameOf(path);
  std::atomic<int> exact{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(100 + t);
      for (int i = 0; i < 15; ++i) {
        const int64_t n = std::uniform_int_distribution<int64_t>(0, 71)(random);
        RequestSpec spec;
        spec.movie = movie;
        spec.frames = {n, (n + 5) % 72};
        spec.format = "native";
        auto buffer = buildRequest(spec);
        WorkerReply reply = handler_->handle(*flatbuffers::GetRoot<proto::Request>(buffer.data()), 0, "w");
        const proto::Reply* header = flatbuffers::GetRoot<proto::Reply>(reply.header.data());
        bool ok = header->status() == proto::StatusCode::OK && header->frames()->size() == 2;
        for (flatbuffers::uoffset_t f = 0; ok && f < 2; ++f) {
          const auto pixels = packedPixels(reply, *header->frames()->Get(f));
          ok = md5Hex(pixels.data(), pixels.size()) == oracle[size_t(spec.frames[f])];
        }
        (ok ? exact : wrong)++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(exact, 60);
}

}  // namespace
}  // namespace framewire
