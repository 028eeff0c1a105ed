// DeepYuvToRgb: deep planar YUV 4:2:2 / 4:4:4 (ProRes' yuv422p10le, yuv444p12le, yuva444p12le,
// and the 9..14-bit relatives) to packed rgb24 or bgr24 at the same size, in one pass.
//
// Why: that is the conversion every ProRes frame a client asks for as rgb24 goes through, and
// swscale has no fast path for it (12 ms for 1080p on one core). Rounding the samples to 8 bits
// first and then using swscale's 8-bit path takes two passes over the frame (~3 ms on two
// threads for 1080p on the development machine). Here one AVX2 pass reads the 16-bit samples
// and writes the RGB bytes: ~1 ms on two threads.
//
// The arithmetic: 16-bit fixed point, 6 fractional bits, saturating (a value that saturates is
// outside 0..255 anyway and is clamped there). The colour matrix and range are swscale's for
// the frame (sws_getCoefficients(colorspace), limited range unless the frame says full), as
// FrameConverter sets them up. 4:2:2 chroma is repeated across the pixel pair, as swscale's
// packed-RGB output does at even widths (odd widths are left to swscale, which interpolates
// there). swscale's 4:2:2 path looks its chroma terms up in tables that floor them, which
// leaves its output up to half a level below the exact value; that result is biased by as
// much. So the output stays as close to `ffmpeg -pix_fmt rgb24` as the 8-bit path
// was: on a noisy 1080p ProRes 422 frame 52 dB PSNR from swscale's direct conversion (at most
// 3 levels apart); on ProRes 4444, which swscale converts pixel by pixel and rounds, 74 dB
// (at most 1 level).
//
// The scalar rows compute exactly what the AVX2 rows do (the tests hold them to it); the AVX2
// rows need a CPU that has it, which fast() says. Without it, FrameConverter keeps its 8-bit
// path (the scalar rows are a reference, not a fast path).
//
// Thread-safety: const methods; rows of one frame may be converted by several threads at once.
#pragma once

#include <cstdint>
#include <optional>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
}

namespace framewire {

class DeepYuvToRgb {
 public:
  // The conversion of frames like `source` to `destination` (rgb24 or bgr24) at the same size,
  // or nothing when it is not one this class does.
  static std::optional<DeepYuvToRgb> forFrame(const AVFrame& source, AVPixelFormat destination);

  // True when this CPU runs the AVX2 rows.
  static bool fast();

  // Converts rows [first, last) of `source` into `destination` (the same size, in the format
  // this conversion was made for), and into `copy_to` as well when given: a packed picture
  // (rows of 3 * width bytes), written in the same pass. `simd` false: the scalar rows (tests).
  void convertRows(const AVFrame& source, AVFrame* destination, int first, int last, uint8_t* copy_to = nullptr,
                   bool simd = true) const;

  // The coefficients of one conversion, in the fixed point described above.
  struct Coefficients {
    int depth = 10;           // bits per sample
    bool chroma_halved = false;  // 4:2:2 (else 4:4:4)
    bool bgr = false;         // bgr24 (else rgb24)
    int16_t rounding = 32;    // added before the final shift by 6 (see above)
    int16_t luma_offset = 0;  // black (16 << (depth - 8) for limited range, else 0)
    int16_t luma_scale = 0;   // Q14 of the 8-bit luma gain (255/219 limited, 1 full), * 64
    int16_t v_to_r = 0, u_to_g = 0, v_to_g = 0, u_to_b = 0;  // swscale's 16.16 chroma gains / 8
  };

 private:
  explicit DeepYuvToRgb(const Coefficients& coefficients) : k_(coefficients) {}

  Coefficients k_;
};

}  // namespace framewire
