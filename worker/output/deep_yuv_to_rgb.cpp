#include "worker/output/deep_yuv_to_rgb.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define FRAMEWIRE_HAVE_AVX2_ROWS 1
#endif

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace framewire {
namespace {

using Coefficients = DeepYuvToRgb::Coefficients;

int16_t saturate16(int value) { return static_cast<int16_t>(std::clamp(value, -32768, 32767)); }
// _mm256_mulhrs_epi16 on one lane: round(a * b / 2^15).
int16_t mulhrs(int16_t a, int16_t b) { return static_cast<int16_t>((int32_t(a) * b + 0x4000) >> 15); }
uint8_t toByte(int16_t value, int16_t rounding) {
  return static_cast<uint8_t>(std::clamp(saturate16(value + rounding) >> 6, 0, 255));
}

// One pixel, exactly as the AVX2 rows compute it.
void pixel(const Coefficients& k, uint16_t y, uint16_t u, uint16_t v, uint8_t* out) {
  const int half = 1 << (k.depth - 1);
  const auto luma = mulhrs(static_cast<int16_t>((y - k.luma_offset) * (1 << (15 - k.depth))), k.luma_scale);
  const auto cb = static_cast<int16_t>((u - half) * (1 << (16 - k.depth)));
  const auto cr = static_cast<int16_t>((v - half) * (1 << (16 - k.depth)));
  const int16_t r = saturate16(luma + mulhrs(cr, k.v_to_r));
  const int16_t g = saturate16(saturate16(luma - mulhrs(cb, k.u_to_g)) - mulhrs(cr, k.v_to_g));
  const int16_t b = saturate16(luma + mulhrs(cb, k.u_to_b));
  out[k.bgr ? 2 : 0] = toByte(r, k.rounding);
  out[1] = toByte(g, k.rounding);
  out[k.bgr ? 0 : 2] = toByte(b, k.rounding);
}

void scalarRow(const Coefficients& k, const uint16_t* y, const uint16_t* u, const uint16_t* v, uint8_t* out,
               uint8_t* copy, int from, int width) {
  const int chroma_shift = k.chroma_halved ? 1 : 0;
  for (int x = from; x < width; ++x) {
    pixel(k, y[x], u[x >> chroma_shift], v[x >> chroma_shift], out + 3 * x);
    if (copy) std::memcpy(copy + 3 * x, out + 3 * x, 3);
  }
}

#if FRAMEWIRE_HAVE_AVX2_ROWS
#define FRAMEWIRE_AVX2 __attribute__((target("avx2"), always_inline)) inline

// kInterleave.bytes[c][i]: where colour c's bytes go in output chunk i (16 bytes) of the 48
// bytes of a lane's 16 pixels (-128: nowhere).
struct InterleaveMasks {
  alignas(32) int8_t bytes[3][3][32];
};
const InterleaveMasks kInterleave = [] {
  InterleaveMasks masks{};
  for (int colour = 0; colour < 3; ++colour) {
    for (int chunk = 0; chunk < 3; ++chunk) {
      for (int at = 0; at < 32; ++at) {
        const int byte = 16 * chunk + (at & 15);
        masks.bytes[colour][chunk][at] = byte % 3 == colour ? static_cast<int8_t>(byte / 3) : int8_t(-128);
      }
    }
  }
  return masks;
}();

FRAMEWIRE_AVX2 __m256i interleaveMask(int colour, int chunk) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(kInterleave.bytes[colour][chunk]));
}
FRAMEWIRE_AVX2 __m256i load16(const uint16_t* at) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at)); }
// (chroma - mid) << (16 - depth): signed, filling 16 bits.
FRAMEWIRE_AVX2 __m256i centred(__m256i chroma, __m256i mid, __m128i shift) {
  return _mm256_sll_epi16(_mm256_sub_epi16(chroma, mid), shift);
}

// 32 pixels a step: the three colours of 16 pixels per 128-bit lane, interleaved with byte
// shuffles into 3 x 32 bytes; the rest of the row (under 32 pixels) goes to scalarRow.
__attribute__((target("avx2"))) void avx2Row(const Coefficients& k, const uint16_t* y, const uint16_t* u,
                                             const uint16_t* v, uint8_t* out, uint8_t* copy, int width) {
  const __m256i luma_offset = _mm256_set1_epi16(k.luma_offset);
  const __m256i chroma_mid = _mm256_set1_epi16(static_cast<int16_t>(1 << (k.depth - 1)));
  const __m256i luma_scale = _mm256_set1_epi16(k.luma_scale);
  const __m256i v_to_r = _mm256_set1_epi16(k.v_to_r), u_to_g = _mm256_set1_epi16(k.u_to_g);
  const __m256i v_to_g = _mm256_set1_epi16(k.v_to_g), u_to_b = _mm256_set1_epi16(k.u_to_b);
  const __m256i rounding = _mm256_set1_epi16(k.rounding);
  const __m128i luma_shift = _mm_cvtsi32_si128(15 - k.depth);
  const __m128i chroma_shift = _mm_cvtsi32_si128(16 - k.depth);
  int x = 0;
  for (; x + 32 <= width; x += 32) {
    const __m256i luma[2] = {load16(y + x), load16(y + x + 16)};
    __m256i cb[2], cr[2];
    if (k.chroma_halved) {
      // 16 chroma samples for 32 pixels: each one twice, in the lane order of the luma.
      const __m256i u16 = centred(_mm256_permute4x64_epi64(load16(u + x / 2), 0xD8), chroma_mid, chroma_shift);
      const __m256i v16 = centred(_mm256_permute4x64_epi64(load16(v + x / 2), 0xD8), chroma_mid, chroma_shift);
      cb[0] = _mm256_unpacklo_epi16(u16, u16);
      cb[1] = _mm256_unpackhi_epi16(u16, u16);
      cr[0] = _mm256_unpacklo_epi16(v16, v16);
      cr[1] = _mm256_unpackhi_epi16(v16, v16);
    } else {
      cb[0] = centred(load16(u + x), chroma_mid, chroma_shift);
      cb[1] = centred(load16(u + x + 16), chroma_mid, chroma_shift);
      cr[0] = centred(load16(v + x), chroma_mid, chroma_shift);
      cr[1] = centred(load16(v + x + 16), chroma_mid, chroma_shift);
    }
    __m256i colours[3][2];  // r, g, b of pixels x..x+15 and x+16..x+31, 16 bits
    for (int h = 0; h < 2; ++h) {
      const __m256i l = _mm256_mulhrs_epi16(_mm256_sll_epi16(_mm256_sub_epi16(luma[h], luma_offset), luma_shift), luma_scale);
      const __m256i r = _mm256_adds_epi16(l, _mm256_mulhrs_epi16(cr[h], v_to_r));
      const __m256i g = _mm256_subs_epi16(_mm256_subs_epi16(l, _mm256_mulhrs_epi16(cb[h], u_to_g)),
                                          _mm256_mulhrs_epi16(cr[h], v_to_g));
      const __m256i b = _mm256_adds_epi16(l, _mm256_mulhrs_epi16(cb[h], u_to_b));
      colours[0][h] = _mm256_srai_epi16(_mm256_adds_epi16(r, rounding), 6);
      colours[1][h] = _mm256_srai_epi16(_mm256_adds_epi16(g, rounding), 6);
      colours[2][h] = _mm256_srai_epi16(_mm256_adds_epi16(b, rounding), 6);
    }
    __m256i bytes[3];  // per colour: pixels x..x+15 in lane 0, x+16..x+31 in lane 1
    for (int c = 0; c < 3; ++c) {
      bytes[c] = _mm256_permute4x64_epi64(_mm256_packus_epi16(colours[c][0], colours[c][1]), 0xD8);
    }
    if (k.bgr) std::swap(bytes[0], bytes[2]);
    __m256i chunks[3];
    for (int i = 0; i < 3; ++i) {
      chunks[i] = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(bytes[0], interleaveMask(0, i)),
                                                   _mm256_shuffle_epi8(bytes[1], interleaveMask(1, i))),
                                  _mm256_shuffle_epi8(bytes[2], interleaveMask(2, i)));
    }
    const __m256i packed[3] = {_mm256_permute2x128_si256(chunks[0], chunks[1], 0x20),
                               _mm256_permute2x128_si256(chunks[2], chunks[0], 0x30),
                               _mm256_permute2x128_si256(chunks[1], chunks[2], 0x31)};
    auto* to = reinterpret_cast<__m256i*>(out + 3 * x);
    for (int i = 0; i < 3; ++i) _mm256_storeu_si256(to + i, packed[i]);
    if (copy) {
      auto* also = reinterpret_cast<__m256i*>(copy + 3 * x);
      for (int i = 0; i < 3; ++i) _mm256_storeu_si256(also + i, packed[i]);
    }
  }
  scalarRow(k, y, u, v, out, copy, x, width);
}
#endif

bool isDeepPlanarYuv(const AVPixFmtDescriptor& desc) {
  if (!(desc.flags & AV_PIX_FMT_FLAG_PLANAR) || (desc.flags & AV_PIX_FMT_FLAG_RGB) ||
      (desc.flags & (AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
                     AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT))) {
    return false;
  }
  // 9..14 bits: (sample - offset) << (15 - depth) must fit 16 bits.
  const int depth = desc.comp[0].depth;
  if (desc.nb_components < 3 || depth < 9 || depth > 14) return false;
  for (int c = 0; c < desc.nb_components; ++c) {
    const AVComponentDescriptor& comp = desc.comp[c];
    if (comp.plane != c || comp.step != 2 || comp.offset != 0 || comp.shift != 0 || comp.depth != depth) return false;
  }
  return desc.log2_chroma_h == 0 && desc.log2_chroma_w <= 1;
}

}  // namespace

std::optional<DeepYuvToRgb> DeepYuvToRgb::forFrame(const AVFrame& source, AVPixelFormat destination) {
  if (destination != AV_PIX_FMT_RGB24 && destination != AV_PIX_FMT_BGR24) return std::nullopt;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(source.format));
  if (!desc || !isDeepPlanarYuv(*desc) || source.width <= 0 || source.height <= 0) return std::nullopt;
  // swscale interpolates the chroma of an odd-width 4:2:2 picture instead of repeating it.
  if (desc->log2_chroma_w == 1 && source.width % 2 != 0) return std::nullopt;

  // swscale's setup for the frame (FrameConverter::context): its colour matrix, limited range
  // unless the frame says full; ff_yuv2rgb_c_init_tables rescales the gains for the range.
  const int* gains = sws_getCoefficients(source.colorspace);  // crv, cbu, cgu, cgv (16.16)
  const bool full_range = source.color_range == AVCOL_RANGE_JPEG;
  const double chroma_gain = full_range ? 224.0 / 255.0 : 1.0;
  const double luma_gain = full_range ? 1.0 : 255.0 / 219.0;
  auto q = [](double value) { return static_cast<int16_t>(std::lround(value)); };
  Coefficients k;
  k.depth = desc->comp[0].depth;
  k.chroma_halved = desc->log2_chroma_w == 1;
  k.bgr = destination == AV_PIX_FMT_BGR24;
  // swscale's 4:2:2 path looks its chroma terms up in tables that floor them: about half a
  // level below the exact value for limited range, a quarter for full range (measured on
  // noise); its 4:4:4 path computes and rounds.
  k.rounding = !k.chroma_halved ? 32 : full_range ? 16 : -32;
  k.luma_offset = static_cast<int16_t>(full_range ? 0 : 16 << (k.depth - 8));
  k.luma_scale = q(luma_gain * 64 * 256);
  k.v_to_r = q(gains[0] * chroma_gain / 8);
  k.u_to_b = q(gains[1] * chroma_gain / 8);
  k.u_to_g = q(gains[2] * chroma_gain / 8);
  k.v_to_g = q(gains[3] * chroma_gain / 8);
  return DeepYuvToRgb(k);
}

bool DeepYuvToRgb::fast() {
#if FRAMEWIRE_HAVE_AVX2_ROWS
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
#else
  return false;
#endif
}

void DeepYuvToRgb::convertRows(const AVFrame& source, AVFrame* destination, int first, int last, uint8_t* copy_to,
                               bool simd) const {
  for (int row = first; row < last; ++row) {
    auto line = [&](int plane) {
      return reinterpret_cast<const uint16_t*>(source.data[plane] + ptrdiff_t(row) * source.linesize[plane]);
    };
    uint8_t* out = destination->data[0] + ptrdiff_t(row) * destination->linesize[0];
    uint8_t* copy = copy_to ? copy_to + ptrdiff_t(row) * source.width * 3 : nullptr;
#if FRAMEWIRE_HAVE_AVX2_ROWS
    if (simd && fast()) {
      avx2Row(k_, line(0), line(1), line(2), out, copy, source.width);
      continue;
    }
#endif
    (void)simd;
    scalarRow(k_, line(0), line(1), line(2), out, copy, 0, source.width);
  }
}

}  // namespace framewire
