// The C++ client against a real broker and two workers: metadata, listing, frame identity
// against ffmpeg's framemd5 (random and backward indices, intra and B-frame movies), rgb24
// against ffmpeg's conversion, batches in request order, both socket types, image encodings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "tests/integration/integration_test.h"
#include "tests/support/test_movies.h"

namespace framewire::testing {
namespace {

FrameOptions withFormat(const std::string& format) {
  FrameOptions options;
  options.format = format;
  return options;
}

// Random indices (fixed seed), then a backward walk: every seek pattern a decoder can get wrong.
std::vector<int64_t> seekPattern(int num_frames, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int64_t> pick(0, num_frames - 1);
  std::vector<int64_t> indices = {0, num_frames - 1};
  for (int i = 0; i < 10; ++i) indices.push_back(pick(random));
  for (int64_t n = num_frames - 2; n >= 0; n -= 7) indices.push_back(n);
  indices.push_back(1);  // just after the start, after a long jump back
  return indices;
}

class ServerTest : public IntegrationTest {};

TEST_F(ServerTest, InfoDescribesTheMovies) {
  Client c = client();
  auto prores = c.info(kProres);
  ASSERT_TRUE(prores.ok()) << prores.status().toString();
  EXPECT_EQ(prores->numFrames, kProresFrames);
  EXPECT_EQ(prores->width, 320);
  EXPECT_EQ(prores->height, 240);
  EXPECT_NEAR(prores->fps, 24.0, 0.01);
  EXPECT_NEAR(prores->duration, 2.0, 0.05);
  EXPECT_EQ(prores->codec, "prores");
  EXPECT_EQ(prores->pixelFormat, "yuv422p10le");
  EXPECT_EQ(prores->bitDepth, 10);
  EXPECT_EQ(prores->fileSize, std::filesystem::file_size(server_->root() + "/" + kProres));
  EXPECT_EQ(prores->keyframes, kProresFrames) << "ProRes is intra-only";
  EXPECT_GT(prores->timeBaseDen, 0);

  auto h264 = c.info(kH264);
  ASSERT_TRUE(h264.ok()) << h264.status().toString();
  EXPECT_EQ(h264->numFrames, kH264Frames);
  EXPECT_EQ(h264->codec, "h264");
  EXPECT_EQ(h264->pixelFormat, "yuv420p");
  EXPECT_EQ(h264->bitDepth, 8);
  EXPECT_NEAR(h264->fps, 24.0, 0.01);
  EXPECT_EQ(h264->keyframes, kH264Frames / 12) << "GOP 12, no scene cuts";
}

TEST_F(ServerTest, ListShowsMoviesAndFolders) {
  Client c = client();
  auto top = c.list("");
  ASSERT_TRUE(top.ok()) << top.status().toString();
  std::vector<std::string> names;
  for (const ListEntry& e : *top) names.push_back(e.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* expected : {kProres, kH264, "sub/", "bad.mov"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected << " missing from the list";
  }
  const auto prores = std::find_if(top->begin(), top->end(), [](const ListEntry& e) { return e.name == kProres; });
  ASSERT_NE(prores, top->end());
  EXPECT_EQ(prores->size, std::filesystem::file_size(server_->root() + "/" + kProres));
  EXPECT_FALSE(prores->isFolder());

  auto sub = c.list("sub");
  ASSERT_TRUE(sub.ok()) << sub.status().toString();
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].name, "nested.mov");
  auto nested = c.info("sub/nested.mov");
  ASSERT_TRUE(nested.ok()) << nested.status().toString();
  EXPECT_EQ(nested->numFrames, kProresFrames);
}

TEST_F(ServerTest, NativeProresFramesMatchFramemd5) {
  Client c = client();
  const auto& md5s = oracleMd5s(kProres);
  ASSERT_EQ(md5s.size(), size_t(kProresFrames));
  for (const int64_t n : seekPattern(kProresFrames, 11)) {
    auto frame = c.getFrame(kProres, n, withFormat("native"));
    ASSERT_TRUE(frame.ok()) << "frame " << n << ": " << frame.status().toString();
    EXPECT_EQ(frame->index(), n);
    EXPECT_EQ(frame->pixelFormat(), "yuv422p10le");
    EXPECT_EQ(frame->format(), "native");
    EXPECT_EQ(frame->sampleBytes(), 2);
    EXPECT_TRUE(frame->keyframe());
    ASSERT_EQ(frame->planes().size(), 3u) << "Y, U, V";
    EXPECT_EQ(frame->planes()[0].rowBytes, 320u * 2);
    EXPECT_EQ(frame->planes()[1].rowBytes, 160u * 2);
    EXPECT_EQ(frame->planes()[0].rows, 240u);
    EXPECT_EQ(packedMd5(*frame), md5s[n]) << "frame " << n;
  }
}

TEST_F(ServerTest, NativeH264BFrameFramesMatchFramemd5) {
  Client c = client();
  const auto& md5s = oracleMd5s(kH264);
  ASSERT_EQ(md5s.size(), size_t(kH264Frames));
  std::vector<int64_t> indices = seekPattern(kH264Frames, 22);
  // Around GOP boundaries (keyframes every 12 frames), forwards and backwards.
  for (const int64_t n : {11, 12, 13, 24, 23, 35, 36, 48, 47, 60, 59}) indices.push_back(n);
  for (const int64_t n : indices) {
    auto frame = c.getFrame(kH264, n, withFormat("native"));
    ASSERT_TRUE(frame.ok()) << "frame " << n << ": " << frame.status().toString();
    EXPECT_EQ(frame->index(), n);
    EXPECT_EQ(frame->pixelFormat(), "yuv420p");
    EXPECT_EQ(frame->keyframe(), n % 12 == 0) << "frame " << n;
    ASSERT_EQ(frame->planes().size(), 3u);
    EXPECT_EQ(packedMd5(*frame), md5s[n]) << "frame " << n;
  }
}

TEST_F(ServerTest, FramesByTime) {
  Client c = client();
  const auto& md5s = oracleMd5s(kH264);
  // 24 fps: frame n is shown from n/24 s until (n+1)/24 s.
  for (const auto& [seconds, n] : {std::pair<double, int64_t>{0.0, 0}, {10.5 / 24, 10}, {1.0, 24}, {2.99, 71}}) {
    auto frame = c.getFrameAt(kH264, seconds, withFormat("native"));
    ASSERT_TRUE(frame.ok()) << seconds << " s: " << frame.status().toString();
    EXPECT_EQ(frame->index(), n) << seconds << " s";
    EXPECT_EQ(packedMd5(*frame), md5s[n]) << seconds << " s";
  }
  auto frames = c.getFramesAt(kH264, {1.0, 0.0, 1.0}, withFormat("gray8"));
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  ASSERT_EQ(frames->size(), 3u);
  EXPECT_EQ((*frames)[0].index(), 24);
  EXPECT_EQ((*frames)[1].index(), 0);
  EXPECT_EQ((*frames)[2].index(), 24);
  for (double bad : {-0.5, 3.0, 1e12}) {
    auto frame = c.getFrameAt(kH264, bad);
    ASSERT_FALSE(frame.ok()) << bad;
    EXPECT_EQ(frame.status().code(), StatusCode::kOutOfRange) << bad;
  }
}

TEST_F(ServerTest, Rgb24IsWithin40DbOfFfmpeg) {
  Client c = client();
  for (const std::string movie : {kProres, kH264}) {
    const std::vector<uint8_t>& reference = oracleRgb24(movie);
    const size_t frame_bytes = 320 * 240 * 3;
    for (const int64_t n : {0, 17, 5, 40}) {
      ASSERT_LE((n + 1) * frame_bytes, reference.size());
      auto frame = c.getFrame(movie, n, withFormat("rgb24"));
      ASSERT_TRUE(frame.ok()) << movie << " frame " << n << ": " << frame.status().toString();
      EXPECT_EQ(frame->pixelFormat(), "rgb24");
      EXPECT_EQ(frame->width(), 320);
      EXPECT_EQ(frame->height(), 240);
      ASSERT_EQ(frame->planes().size(), 1u);
      EXPECT_EQ(frame->planes()[0].rowBytes, 320u * 3);
      EXPECT_EQ(frame->planes()[0].rows, 240u);
      const std::vector<uint8_t> pixels = frame->packedBytes();
      ASSERT_EQ(pixels.size(), frame_bytes);
      const double db = psnr(pixels.data(), reference.data() + n * frame_bytes, frame_bytes);
      EXPECT_GE(db, 40.0) << movie << " frame " << n;
    }
  }
}

TEST_F(ServerTest, EveryOutputFormatHasItsGeometry) {
  Client c = client();
  struct Expected {
    const char* format;
    size_t bytes_per_pixel;
    int sample_bytes;
  };
  for (const Expected& e : {Expected{"rgb24", 3, 1}, Expected{"rgba", 4, 1}, Expected{"bgr24", 3, 1},
                            Expected{"gray8", 1, 1}, Expected{"gray16", 2, 2}}) {
    auto frame = c.getFrame(kH264, 9, withFormat(e.format));
    ASSERT_TRUE(frame.ok()) << e.format << ": " << frame.status().toString();
    EXPECT_EQ(frame->format(), e.format);
    EXPECT_EQ(frame->sampleBytes(), e.sample_bytes) << e.format;
    ASSERT_EQ(frame->planes().size(), 1u) << e.format;
    EXPECT_EQ(frame->planes()[0].rowBytes, 320 * e.bytes_per_pixel) << e.format;
    EXPECT_EQ(frame->planes()[0].rows, 240u) << e.format;
  }
  // bgr24 is rgb24 with red and blue swapped.
  auto rgb = c.getFrame(kH264, 9, withFormat("rgb24"));
  auto bgr = c.getFrame(kH264, 9, withFormat("bgr24"));
  ASSERT_TRUE(rgb.ok() && bgr.ok());
  std::vector<uint8_t> swapped = bgr->packedBytes();
  for (size_t i = 0; i + 2 < swapped.size(); i += 3) std::swap(swapped[i], swapped[i + 2]);
  const std::vector<uint8_t> rgb_bytes = rgb->packedBytes();
  EXPECT_GE(psnr(swapped.data(), rgb_bytes.data(), rgb_bytes.size()), 40.0);
}

TEST_F(ServerTest, CropAndResize) {
  Client c = client();
  FrameOptions crop = withFormat("rgb24");
  crop.crop = CropRect{40, 20, 100, 60};
  auto cropped = c.getFrame(kProres, 3, crop);
  ASSERT_TRUE(cropped.ok()) << cropped.status().toString();
  EXPECT_EQ(cropped->width(), 100);
  EXPECT_EQ(cropped->height(), 60);
  const std::vector<uint8_t> pixels = cropped->packedBytes();
  ASSERT_EQ(pixels.size(), 100u * 60 * 3);
  // Compare with the same rectangle of ffmpeg's full-frame conversion.
  const std::vector<uint8_t>& reference = oracleRgb24(kProres);
  std::vector<uint8_t> expected;
  const size_t frame_offset = 3 * 320 * 240 * 3;
  for (int y = 20; y < 80; ++y) {
    const auto row = reference.begin() + frame_offset + (y * 320 + 40) * 3;
    expected.insert(expected.end(), row, row + 100 * 3);
  }
  EXPECT_GE(psnr(pixels.data(), expected.data(), expected.size()), 35.0);

  FrameOptions half = withFormat("gray8");
  half.width = 160;  // height follows the aspect ratio
  auto resized = c.getFrame(kProres, 3, half);
  ASSERT_TRUE(resized.ok()) << resized.status().toString();
  EXPECT_EQ(resized->width(), 160);
  EXPECT_EQ(resized->height(), 120);
  EXPECT_EQ(resized->packedSize(), 160u * 120);
}

TEST_F(ServerTest, GetFramesKeepsRequestOrderWithDuplicates) {
  Client c = client();
  const std::vector<int64_t> indices = {30, 2, 30, 71, 0, 2, 13, 12};
  auto frames = c.getFrames(kH264, indices, withFormat("native"));
  ASSERT_TRUE(frames.ok()) << frames.status().toString();
  ASSERT_EQ(frames->size(), indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    EXPECT_EQ((*frames)[i].index(), indices[i]);
    EXPECT_EQ(packedMd5((*frames)[i]), oracleMd5s(kH264)[indices[i]]) << "position " << i;
  }
  // The frames outlive each other: keep one, drop the rest, read it.
  Frame kept = (*frames)[3];
  frames = Status::internal("dropped");
  EXPECT_EQ(packedMd5(kept), oracleMd5s(kH264)[71]);
}

class SocketTypeTest : public IntegrationTest, public ::testing::WithParamInterface<SocketType> {};

TEST_P(SocketTypeTest, InfoFramesAndListWork) {
  Client c = client(GetParam());
  for (int round = 0; round < 3; ++round) {  // the same socket serves request after request
    auto info = c.info(kProres);
    ASSERT_TRUE(info.ok()) << info.status().toString();
    auto frame = c.getFrame(kProres, 10 + round, withFormat("native"));
    ASSERT_TRUE(frame.ok()) << frame.status().toString();
    EXPECT_EQ(packedMd5(*frame), oracleMd5s(kProres)[10 + round]);
    auto frames = c.getFrames(kH264, {5, 4}, withFormat("native"));
    ASSERT_TRUE(frames.ok()) << frames.status().toString();
    EXPECT_EQ(packedMd5((*frames)[1]), oracleMd5s(kH264)[4]);
    auto missing = c.info("missing.mov");
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(c.list("").ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Sockets, SocketTypeTest, ::testing::Values(SocketType::kReq, SocketType::kDealer),
                         [](const ::testing::TestParamInfo<SocketType>& info) {
                           return info.param == SocketType::kReq ? "Req" : "Dealer";
                         });

TEST_F(ServerTest, ImageEncodingsAreImageFiles) {
  Client c = client();
  struct Expected {
    const char* encoding;
    std::vector<uint8_t> signature;
  };
  for (const Expected& e : {Expected{"png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}},
                            Expected{"jpeg", {0xff, 0xd8, 0xff}}, Expected{"bmp", {'B', 'M'}}}) {
    FrameOptions options;
    options.encoding = e.encoding;
    options.quality = 90;
    auto frame = c.getFrame(kProres, 8, options);
    ASSERT_TRUE(frame.ok()) << e.encoding << ": " << frame.status().toString();
    EXPECT_EQ(frame->encoding(), e.encoding);
    ASSERT_TRUE(frame->isEncoded());
    ASSERT_GE(frame->encodedSize(), e.signature.size());
    EXPECT_EQ(std::memcmp(frame->encodedData(), e.signature.data(), e.signature.size()), 0) << e.encoding;
    EXPECT_EQ(frame->size(), frame->encodedSize());
  }
}

TEST_F(ServerTest, SymlinkInsideTheRootIsServed) {
  Client c = client();
  auto info = c.info("inside-link.mov");
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_EQ(info->numFrames, kProresFrames);
}

}  // namespace
}  // namespace framewire::testing
