// DeepYuvToRgb: the one-pass conversion of deep 4:2:2 / 4:4:4 YUV to rgb24/bgr24. Synthetic
// noise pictures in every depth, layout, colour matrix and range it takes: against swscale's
// own conversion over the nominal range, against the exact formula beyond it (where every
// colour saturates), and the AVX2 rows against the scalar ones byte for byte.
#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_movies.h"
#include "tests/worker/worker_test_support.h"
#include "worker/output/deep_yuv_to_rgb.h"

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace framewire {
namespace {

// A `width` x `height` picture of `format`: noise over the nominal range of `range` (limited:
// luma 16..235 and chroma 16..240 in 8-bit terms) or, with `whole_range`, over every sample
// value; its first row has the smallest of those samples and its second the largest.
UniqueAVFrame noisePicture(AVPixelFormat format, int width, int height, AVColorSpace colorspace,
                           AVColorRange range, unsigned seed, bool whole_range = false) {
  UniqueAVFrame frame = allocateFrame();
  frame->format = format;
  frame->width = width;
  frame->height = height;
  frame->colorspace = colorspace;
  frame->color_range = range;
  EXPECT_GE(av_frame_get_buffer(frame.get(), 64), 0);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  const int depth = desc->comp[0].depth;
  const int largest = (1 << depth) - 1;
  const bool limited = range != AVCOL_RANGE_JPEG && !whole_range;
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> luma(limited ? 16 << (depth - 8) : 0, limited ? 235 << (depth - 8) : largest);
  std::uniform_int_distribution<int> chroma(limited ? 16 << (depth - 8) : 0, limited ? 240 << (depth - 8) : largest);
  for (int plane = 0; plane < desc->nb_components; ++plane) {
    const bool is_chroma = plane == 1 || plane == 2;
    const int plane_width = is_chroma ? AV_CEIL_RSHIFT(width, desc->log2_chroma_w) : width;
    for (int row = 0; row < height; ++row) {
      auto* samples = reinterpret_cast<uint16_t*>(frame->data[plane] + ptrdiff_t(row) * frame->linesize[plane]);
      for (int x = 0; x < plane_width; ++x) {
        auto& distribution = is_chroma ? chroma : luma;
        const int sample = row == 0 ? distribution.min() : row == 1 ? distribution.max() : distribution(random);
        samples[x] = static_cast<uint16_t>(sample);
      }
    }
  }
  return frame;
}

// The exact conversion (double precision, clamped, swscale's coefficients) of one pixel.
std::array<double, 3> exactRgb(const AVFrame& frame, int x, int row) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame.format));
  const double scale = 1 << (desc->comp[0].depth - 8);
  auto sample = [&](int plane, int at) {
    return reinterpret_cast<const uint16_t*>(frame.data[plane] + ptrdiff_t(row) * frame.linesize[plane])[at] / scale;
  };
  const int chroma_x = x >> desc->log2_chroma_w;
  const bool full = frame.color_range == AVCOL_RANGE_JPEG;
  const int* gains = sws_getCoefficients(frame.colorspace);
  const double chroma_gain = (full ? 224.0 / 255.0 : 1.0) / 65536;
  const double y = full ? sample(0, x) : (sample(0, x) - 16) * 255 / 219;
  const double u = sample(1, chroma_x) - 128, v = sample(2, chroma_x) - 128;
  auto clamp = [](double value) { return std::clamp(value, 0.0, 255.0); };
  return {clamp(y + gains[0] * chroma_gain * v), clamp(y - gains[2] * chroma_gain * u - gains[3] * chroma_gain * v),
          clamp(y + gains[1] * chroma_gain * u)};
}

std::vector<uint8_t> converted(const DeepYuvToRgb& conversion, const AVFrame& source, bool simd) {
  std::vector<uint8_t> pixels(size_t(source.width) * source.height * 3);
  UniqueAVFrame destination = allocateFrame();
  destination->data[0] = pixels.data();
  destination->linesize[0] = source.width * 3;
  conversion.convertRows(source, destination.get(), 0, source.height, nullptr, simd);
  return pixels;
}

struct Picture {
  AVPixelFormat format;
  AVColorSpace colorspace;
  AVColorRange range;
};

const std::vector<Picture>& pictures() {
  static const std::vector<Picture> all = {
      {AV_PIX_FMT_YUV422P10LE, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED},  // ProRes 422 as decoded
      {AV_PIX_FMT_YUV422P10LE, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG},
      {AV_PIX_FMT_YUV422P10LE, AVCOL_SPC_BT470BG, AVCOL_RANGE_JPEG},
      {AV_PIX_FMT_YUV422P12LE, AVCOL_SPC_BT2020_NCL, AVCOL_RANGE_MPEG},
      {AV_PIX_FMT_YUV444P12LE, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED},  // ProRes 4444
      {AV_PIX_FMT_YUVA444P12LE, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG},
      {AV_PIX_FMT_YUV444P10LE, AVCOL_SPC_BT709, AVCOL_RANGE_JPEG},
      {AV_PIX_FMT_YUV422P9LE, AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG},
      {AV_PIX_FMT_YUV444P14LE, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG},
  };
  return all;
}

std::string describe(const Picture& p, int width, AVPixelFormat output) {
  return std::string(av_get_pix_fmt_name(p.format)) + " " + av_color_space_name(p.colorspace) + " " +
         av_color_range_name(p.range) + " width " + std::to_string(width) + " to " + av_get_pix_fmt_name(output);
}

TEST(DeepYuvToRgbTest, StaysWithinAFewLevelsOfSwscale) {
  unsigned seed = 1;
  for (const Picture& p : pictures()) {
    for (AVPixelFormat output : {AV_PIX_FMT_RGB24, AV_PIX_FMT_BGR24}) {
      for (int width : {2, 34, 64, 130}) {
        UniqueAVFrame source = noisePicture(p.format, width, 24, p.colorspace, p.range, seed++);
        const auto conversion = DeepYuvToRgb::forFrame(*source, output);
        ASSERT_TRUE(conversion) << describe(p, width, output);
        const std::vector<uint8_t> ours = converted(*conversion, *source, /*simd=*/false);
        const std::vector<uint8_t> reference = testing::swscaleDirect(*source, output);
        ASSERT_EQ(ours.size(), reference.size());
        int worst = 0;
        for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(int(ours[i]) - int(reference[i])));
        EXPECT_LE(worst, 4) << describe(p, width, output);
        EXPECT_GE(testing::psnr(ours.data(), reference.data(), ours.size()), 45.0) << describe(p, width, output);
      }
    }
  }
}

// Out of the nominal range (superwhite luma, extreme chroma) every colour saturates where it
// should. (swscale's 4:4:4 path wraps around there, so the reference is the exact formula.)
TEST(DeepYuvToRgbTest, SaturatesOutsideTheNominalRange) {
  unsigned seed = 50;
  for (const Picture& p : pictures()) {
    const int width = 66;
    UniqueAVFrame source = noisePicture(p.format, width, 16, p.colorspace, p.range, seed++, /*whole_range=*/true);
    const auto conversion = DeepYuvToRgb::forFrame(*source, AV_PIX_FMT_RGB24);
    ASSERT_TRUE(conversion);
    const std::vector<uint8_t> ours = converted(*conversion, *source, /*simd=*/false);
    double worst = 0;
    for (int row = 0; row < source->height; ++row) {
      for (int x = 0; x < width; ++x) {
        const std::array<double, 3> exact = exactRgb(*source, x, row);
        for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(ours[(size_t(row) * width + x) * 3 + c] - exact[c]));
      }
    }
    // 4:2:2 limited range: half a level of bias, then rounded down (up to 1.5 levels below).
    EXPECT_LE(worst, 1.6) << describe(p, width, AV_PIX_FMT_RGB24);
  }
}

TEST(DeepYuvToRgbTest, Avx2RowsEqualTheScalarRows) {
  if (!DeepYuvToRgb::fast()) GTEST_SKIP() << "this CPU has no AVX2";
  unsigned seed = 100;
  for (const Picture& p : pictures()) {
    for (AVPixelFormat output : {AV_PIX_FMT_RGB24, AV_PIX_FMT_BGR24}) {
      // Under one step of 32 pixels, whole steps, and steps with a scalar tail.
      for (int width : {2, 30, 32, 34, 64, 96, 130, 1920}) {
        UniqueAVFrame source = noisePicture(p.format, width, 6, p.colorspace, p.range, seed++, /*whole_range=*/true);
        const auto conversion = DeepYuvToRgb::forFrame(*source, output);
        ASSERT_TRUE(conversion) << describe(p, width, output);
        EXPECT_EQ(converted(*conversion, *source, true), converted(*conversion, *source, false))
            << describe(p, width, output);
      }
    }
  }
}

// The packed copy written in the same pass (a client's shared memory) holds the same bytes as
// the destination, from the AVX2 and the scalar rows, whatever the destination's row stride.
TEST(DeepYuvToRgbTest, WritesTheCopyInTheSamePass) {
  for (const Picture& p : {pictures()[0], pictures()[4]}) {
    const int width = 98;  // three AVX2 steps and a scalar tail
    UniqueAVFrame source = noisePicture(p.format, width, 8, p.colorspace, p.range, 9);
    const auto conversion = DeepYuvToRgb::forFrame(*source, AV_PIX_FMT_RGB24);
    ASSERT_TRUE(conversion);
    for (bool simd : {true, false}) {
      const int stride = width * 3 + 64;  // the destination's rows padded, the copy's packed
      std::vector<uint8_t> padded(size_t(stride) * source->height, 0);
      std::vector<uint8_t> copy(size_t(width) * 3 * source->height, 0);
      UniqueAVFrame destination = allocateFrame();
      destination->data[0] = padded.data();
      destination->linesize[0] = stride;
      conversion->convertRows(*source, destination.get(), 0, source->height, copy.data(), simd);
      std::vector<uint8_t> unpadded;
      for (int row = 0; row < source->height; ++row) {
        unpadded.insert(unpadded.end(), padded.begin() + ptrdiff_t(row) * stride,
                        padded.begin() + ptrdiff_t(row) * stride + width * 3);
      }
      EXPECT_EQ(copy, unpadded) << describe(p, width, AV_PIX_FMT_RGB24) << (simd ? " simd" : " scalar");
      EXPECT_EQ(copy, converted(*conversion, *source, false)) << describe(p, width, AV_PIX_FMT_RGB24);
    }
  }
}

TEST(DeepYuvToRgbTest, LeavesOtherConversionsToSwscale) {
  auto takes = [](AVPixelFormat format, int width, AVPixelFormat output) {
    UniqueAVFrame source = noisePicture(format, width, 4, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED, 7);
    return DeepYuvToRgb::forFrame(*source, output).has_value();
  };
  EXPECT_TRUE(takes(AV_PIX_FMT_YUV422P10LE, 64, AV_PIX_FMT_RGB24));
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV422P10LE, 64, AV_PIX_FMT_RGBA)) << "rgb24 and bgr24 only";
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV422P10LE, 64, AV_PIX_FMT_GRAY8));
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV422P10LE, 65, AV_PIX_FMT_RGB24)) << "swscale interpolates odd 4:2:2 widths";
  EXPECT_TRUE(takes(AV_PIX_FMT_YUV444P10LE, 65, AV_PIX_FMT_RGB24));
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV420P10LE, 64, AV_PIX_FMT_RGB24)) << "4:2:0";
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV422P10BE, 64, AV_PIX_FMT_RGB24)) << "big-endian";
  EXPECT_FALSE(takes(AV_PIX_FMT_YUV444P16LE, 64, AV_PIX_FMT_RGB24)) << "16 bits do not fit the fixed point";
  UniqueAVFrame eight_bit = allocateFrame();
  eight_bit->format = AV_PIX_FMT_YUV422P;
  eight_bit->width = 64;
  eight_bit->height = 4;
  EXPECT_FALSE(DeepYuvToRgb::forFrame(*eight_bit, AV_PIX_FMT_RGB24).has_value());
}

}  // namespace
}  // namespace framewire
