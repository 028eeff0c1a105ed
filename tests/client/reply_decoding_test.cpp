// The reply decoder over hand-built replies: planes point into the received parts, packed
// bytes drop the row padding, shared parts outlive the reply, and a lying header is caught.
#include "client/reply_decoding.h"

#include <gtest/gtest.h>

#include <numeric>

#include "tests/client/reply_builder.h"

namespace framewire {
namespace {

using client_internal::decodeFrames;
using client_internal::decodeListEntries;
using client_internal::decodeMovieInfo;
using client_internal::replyStatus;
using testing::FrameSpec;
using testing::PlaneSpec;
using testing::buildFramesReply;
using testing::receivedReply;

std::vector<uint8_t> counting(size_t size, uint8_t start = 0) {
  std::vector<uint8_t> bytes(size);
  std::iota(bytes.begin(), bytes.end(), start);
  return bytes;
}

// An rgb24 frame of 4x3 pixels, rows padded to 16 bytes and starting 8 bytes into the part.
TEST(ReplyDecoding, PackedFramePointsIntoTheMessageAndDropsPadding) {
  FrameSpec spec;
  spec.index = 7;
  spec.pts = 3584;
  spec.time = 0.291666;
  spec.keyframe = true;
  spec.width = 4;
  spec.height = 3;
  spec.size = 8 + 16 * 3;
  spec.decode_us = 1500;
  spec.planes = {{0, 8, 16, 12, 3}};
  const auto payload = counting(8 + 16 * 3);
  protocol::ClientReply reply = receivedReply(buildFramesReply(42, {spec}), {payload});
  const uint8_t* part_data = reply.parts[1].data<uint8_t>();

  auto frames = decodeFrames(std::move(reply));
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  ASSERT_EQ(frames->size(), 1u);
  const Frame& frame = frames->front();
  EXPECT_EQ(frame.index(), 7);
  EXPECT_EQ(frame.pts(), 3584);
  EXPECT_DOUBLE_EQ(frame.time(), 0.291666);
  EXPECT_TRUE(frame.keyframe());
  EXPECT_EQ(frame.width(), 4);
  EXPECT_EQ(frame.height(), 3);
  EXPECT_EQ(frame.format(), "rgb24");
  EXPECT_EQ(frame.pixelFormat(), "rgb24");
  EXPECT_EQ(frame.encoding(), "raw");
  EXPECT_FALSE(frame.isEncoded());
  EXPECT_EQ(frame.encodedData(), nullptr);
  EXPECT_EQ(frame.sampleBytes(), 1);
  EXPECT_EQ(frame.timings().decodeUs, 1500);
  EXPECT_EQ(frame.requestTimings().queueUs, 123);
  EXPECT_EQ(frame.requestTimings().totalUs, 456);
  EXPECT_EQ(frame.worker(), "test-worker");

  ASSERT_EQ(frame.planes().size(), 1u);
  const FramePlane& plane = frame.planes()[0];
  EXPECT_EQ(plane.data, part_data + 8) << "the plane must point into the received message, not a copy";
  EXPECT_EQ(plane.stride, 16u);
  EXPECT_EQ(plane.rowBytes, 12u);
  EXPECT_EQ(plane.rows, 3u);
  EXPECT_EQ(plane.row(2), part_data + 8 + 32);

  std::vector<uint8_t> expected;
  for (int r = 0; r < 3; ++r) {
    for (int b = 0; b < 12; ++b) expected.push_back(payload[8 + r * 16 + b]);
  }
  EXPECT_EQ(frame.packedSize(), 36u);
  EXPECT_EQ(frame.packedBytes(), expected);
}

// A native yuv422p10le frame (2 bytes a sample): Y, U, V in three parts, each row padded.
TEST(ReplyDecoding, PlanarNativeFrameConcatenatesPlanesInOrder) {
  const int width = 6, height = 2;
  FrameSpec spec;
  spec.format = "native";
  spec.pixel_format = "yuv422p10le";
  spec.sample_bytes = 2;
  spec.width = width;
  spec.height = height;
  const uint32_t y_row = width * 2, c_row = (width / 2) * 2;
  spec.planes = {{0, 0, 32, y_row, 2}, {1, 0, 16, c_row, 2}, {2, 4, 16, c_row, 2}};
  const auto y = counting(64, 0), u = counting(32, 100), v = counting(36, 200);

  auto frames = decodeFrames(receivedReply(buildFramesReply(1, {spec}), {y, u, v}));
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  const Frame& frame = frames->front();
  EXPECT_EQ(frame.sampleBytes(), 2);
  ASSERT_EQ(frame.planes().size(), 3u);

  std::vector<uint8_t> expected;
  auto append_rows = [&](const std::vector<uint8_t>& part, size_t offset, size_t stride, size_t row_bytes) {
    for (size_t r = 0; r < 2; ++r) expected.insert(expected.end(), part.begin() + offset + r * stride,
                                                   part.begin() + offset + r * stride + row_bytes);
  };
  append_rows(y, 0, 32, y_row);
  append_rows(u, 0, 16, c_row);
  append_rows(v, 4, 16, c_row);
  EXPECT_EQ(frame.packedSize(), size_t(y_row * 2 + c_row * 4));
  EXPECT_EQ(frame.packedBytes(), expected);

  std::vector<uint8_t> into(frame.packedSize());
  frame.copyPackedTo(into.data());
  EXPECT_EQ(into, expected);
}

// Two frames in one part: they share the reply's messages, which outlive the reply itself
// and stay alive as long as either frame does.
TEST(ReplyDecoding, FramesShareOnePartAndKeepItAlive) {
  FrameSpec first, second;
  first.index = 5;
  first.planes = {{0, 0, 6, 6, 2}};
  second.index = 1;
  second.planes = {{0, 12, 6, 6, 2}};
  const auto payload = counting(24);
  std::vector<Frame> kept;
  {
    auto frames = decodeFrames(receivedReply(buildFramesReply(9, {first, second}), {payload}));
    ASSERT_TRUE(frames.ok()) << frames.status().toString();
    ASSERT_EQ(frames->size(), 2u);
    EXPECT_EQ((*frames)[0].index(), 5);
    EXPECT_EQ((*frames)[1].index(), 1);
    EXPECT_EQ((*frames)[0].planes()[0].data + 12, (*frames)[1].planes()[0].data);
    kept.push_back((*frames)[1]);  // a copy of the Frame, not of the pixels
  }
  // The reply, the first frame and the vector are gone; the second frame's pixels are intact
  // (AddressSanitizer would flag a use after free here).
  const std::vector<uint8_t> expected(payload.begin() + 12, payload.end());
  EXPECT_EQ(kept[0].packedBytes(), expected);
}

TEST(ReplyDecoding, EncodedFrameExposesTheImageFile) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3, 4, 5};
  FrameSpec spec;
  spec.encoding = "png";
  spec.size = png.size();
  spec.planes = {{0, 0, uint32_t(png.size()), uint32_t(png.size()), 1}};
  auto frames = decodeFrames(receivedReply(buildFramesReply(3, {spec}), {png}));
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  const Frame& frame = frames->front();
  EXPECT_TRUE(frame.isEncoded());
  ASSERT_EQ(frame.encodedSize(), png.size());
  EXPECT_EQ(std::vector<uint8_t>(frame.encodedData(), frame.encodedData() + frame.encodedSize()), png);
  EXPECT_EQ(frame.packedBytes(), png);
}

TEST(ReplyDecoding, PlanesOutsideTheirPartAreRejected) {
  const auto payload = counting(100);
  const std::vector<PlaneSpec> bad_planes = {
      {1, 0, 10, 10, 2},                 // no payload part 1
      {0, 101, 10, 10, 1},               // starts after the end
      {0, 0, 10, 10, 11},                // the last row runs past the end
      {0, 95, 10, 10, 1},                // a single row runs past the end
      {0, 0, 4, 10, 3},                  // stride smaller than a row
      {0, 0, 0xffffffffu, 10, 0xffffffffu},  // overflowing arithmetic
  };
  for (const PlaneSpec& plane : bad_planes) {
    FrameSpec spec;
    spec.planes = {plane};
    auto frames = decodeFrames(receivedReply(buildFramesReply(1, {spec}), {payload}));
    ASSERT_FALSE(frames.ok()) << "part " << plane.part << " offset " << plane.offset << " rows " << plane.rows;
    EXPECT_EQ(frames.status().code(), StatusCode::kInternal);
    EXPECT_NE(frames.status().message().find("malformed reply"), std::string::npos);
  }
  // The same geometry exactly filling the part is fine.
  FrameSpec exact;
  exact.planes = {{0, 0, 10, 10, 10}};
  EXPECT_TRUE(decodeFrames(receivedReply(buildFramesReply(1, {exact}), {payload})).ok());
  FrameSpec last_row_short;  // padding after the last row is not required
  last_row_short.planes = {{0, 4, 12, 10, 8}};
  EXPECT_TRUE(decodeFrames(receivedReply(buildFramesReply(1, {last_row_short}), {payload})).ok());
}

TEST(ReplyDecoding, ErrorStatusCarriesCodeAndMessage) {
  auto frames = decodeFrames(
      receivedReply(buildFramesReply(1, {}, proto::StatusCode::OUT_OF_RANGE, "frame 99 of 48"), {}));
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(frames.status().message(), "frame 99 of 48");
  EXPECT_EQ(frames.status().toString(), "OUT_OF_RANGE: frame 99 of 48");

  const auto header = buildFramesReply(1, {}, proto::StatusCode::NOT_FOUND, "");
  const auto* reply = protocol::verifyReply(header.data(), header.size());
  ASSERT_NE(reply, nullptr);
  const Status status = replyStatus(*reply);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_FALSE(status.message().empty()) << "an error always has a message";
}

TEST(ReplyDecoding, MovieInfoAndListEntries) {
  flatbuffers::FlatBufferBuilder builder;
  auto info = proto::CreateMovieInfoDirect(builder, "a/b.mov", 48, 320, 240, 24.0, 2.0, "prores", "yuv422p10le",
                                           10, 123456, 48, 1, 12288, 0.0);
  std::vector<flatbuffers::Offset<proto::ListEntry>> entries = {
      proto::CreateListEntryDirect(builder, "a/", 0), proto::CreateListEntryDirect(builder, "m.mov", 99)};
  builder.Finish(proto::CreateReplyDirect(builder, 5, proto::StatusCode::OK, nullptr, info, nullptr, &entries));
  const auto* reply = protocol::verifyReply(builder.GetBufferPointer(), builder.GetSize());
  ASSERT_NE(reply, nullptr);

  auto movie = decodeMovieInfo(*reply);
  ASSERT_TRUE(movie.ok()) << movie.status().toString();
  EXPECT_EQ(movie->movie, "a/b.mov");
  EXPECT_EQ(movie->numFrames, 48);
  EXPECT_EQ(movie->width, 320);
  EXPECT_EQ(movie->height, 240);
  EXPECT_DOUBLE_EQ(movie->fps, 24.0);
  EXPECT_DOUBLE_EQ(movie->duration, 2.0);
  EXPECT_EQ(movie->codec, "prores");
  EXPECT_EQ(movie->pixelFormat, "yuv422p10le");
  EXPECT_EQ(movie->bitDepth, 10);
  EXPECT_EQ(movie->fileSize, 123456u);
  EXPECT_EQ(movie->keyframes, 48);
  EXPECT_EQ(movie->timeBaseNum, 1);
  EXPECT_EQ(movie->timeBaseDen, 12288);

  const auto list = decodeListEntries(*reply);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a/");
  EXPECT_TRUE(list[0].isFolder());
  EXPECT_EQ(list[1].name, "m.mov");
  EXPECT_FALSE(list[1].isFolder());
  EXPECT_EQ(list[1].size, 99u);
}

TEST(ReplyDecoding, InfoReplyWithoutMetadataIsAnError) {
  const auto header = buildFramesReply(1, {});
  const auto* reply = protocol::verifyReply(header.data(), header.size());
  ASSERT_NE(reply, nullptr);
  auto movie = decodeMovieInfo(*reply);
  ASSERT_FALSE(movie.ok());
  EXPECT_EQ(movie.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace framewire
