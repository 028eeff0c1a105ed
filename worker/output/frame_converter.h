// FrameConverter: a decoded frame -> the pixels a request asked for (format, crop, resize).
//
// - native, no resize: no conversion and no copy. Cropping moves the plane offsets inside the
//   decoder's buffers, so it must fall on the chroma grid (x a multiple of 2 for 4:2:x, ...);
//   other crops are refused with INVALID_ARGUMENT saying why.
// - native with resize, and every other format: swscale with threads, into one freshly
//   allocated ref-counted buffer, tightly packed (stride = row bytes), sent zero-copy.
// - toFrame(): the same conversion into an ordinary (aligned) AVFrame, for the image encoders.
// Colour handling mirrors ffmpeg's scale filter: the frame's colour matrix and range drive the
// YUV->RGB conversion, bicubic scaling; so rgb24 output matches `ffmpeg -pix_fmt rgb24`.
// Cropping for converted formats is exact on luma and rounds the chroma offset down to the
// chroma grid, as ffmpeg's crop filter does.
// Deep 4:2:2 and 4:4:4 planar YUV (ProRes' yuv422p10le, yuva444p12le, ...) to 8-bit packed RGB
// at the same size: swscale has no fast path for that (12 ms for a 1080p yuv422p10le frame on
// one core of the dev machine, against 1.8 ms from yuv422p). To rgb24 and bgr24, on a CPU with
// AVX2, DeepYuvToRgb converts in one pass on two threads (~1 ms for 1080p; see its header).
// To the other RGB formats (rgba, ...), widths a multiple of 16 (swscale's 8-bit SIMD path got
// the last pixels of other widths wrong), the samples are first rounded to their top 8 bits
// (SSE2, memory-bound, ~1 ms on two threads) and converted from 8-bit planar with the same
// colour matrix and range: 52 dB PSNR from swscale's direct conversion (RMS error 0.6 of a
// level; the contract is 40 dB against ffmpeg) at 2-3x the speed.
// Other conversions (4:2:0, whose 8-bit path repeats chroma rows instead of interpolating them;
// gray; jpeg's yuvj420p; resizing) take swscale's own path.
//
// swscale contexts are expensive to set up, so the last few are cached per converter.
// Thread-safety: none; one thread at a time (the request handler pools converters).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/output/output_image.h"
#include "worker/output/output_spec.h"

namespace framewire {

// Memory besides the converter's own that FrameConverter::toRaw writes the packed pixels of a
// converted format to (OutputImage::size bytes): a client's shared memory.
struct RawTarget {
  // swscale may write up to this many bytes past the end when `only`.
  static constexpr size_t kSlack = 64;

  uint8_t* data = nullptr;
  // false: a copy, next to the buffer the image points to (written in the same pass where the
  // conversion can: DeepYuvToRgb), so that a cache may keep that buffer. true: only there, and
  // the image points to it, kept valid by `owner`.
  bool only = false;
  std::shared_ptr<const void> owner;
};

class FrameConverter {
 public:
  // `threads`: swscale threads, 0 = one per core.
  explicit FrameConverter(int threads);
  ~FrameConverter();
  FrameConverter(const FrameConverter&) = delete;
  FrameConverter& operator=(const FrameConverter&) = delete;

  // Raw output for `spec` (encoding raw) of a frame whose geometry is `geometry`, also or
  // only into `target` when it has data (converted formats only: native output keeps the
  // decoder's strides and is never written elsewhere).
  Result<OutputImage> toRaw(const AVFrame& frame, const OutputSpec& spec,
                            const OutputGeometry& geometry, const RawTarget& target = {});

  // `frame` cropped/resized per `geometry` and converted to `format`, in aligned buffers.
  Result<UniqueAVFrame> toFrame(const AVFrame& frame, const OutputGeometry& geometry,
                                AVPixelFormat format);

 private:
  struct ContextKey {
    int src_width, src_height, src_format, dst_width, dst_height, dst_format;
    int colorspace, color_range;
    bool operator==(const ContextKey& o) const {
      return src_width == o.src_width && src_height == o.src_height && src_format == o.src_format &&
             dst_width == o.dst_width && dst_height == o.dst_height && dst_format == o.dst_format &&
             colorspace == o.colorspace && color_range == o.color_range;
    }
  };

  Result<UniqueAVFrame> cropped(const AVFrame& frame, const OutputGeometry& geometry) const;
  Result<SwsContext*> context(const AVFrame& source, int width, int height, AVPixelFormat format);
  // Converts into `destination`; true when it also wrote the packed pixels to `copy_to`.
  Result<bool> scale(const AVFrame& source, AVFrame* destination, uint8_t* copy_to = nullptr);
  // `source` itself, or its samples rounded to 8 bits (in narrow_) when it is deep planar YUV
  // going to 8-bit RGB at the same size: see the header comment.
  Result<const AVFrame*> narrowed(const AVFrame& source, AVPixelFormat destination);
  // rows(first, last) over all of `source`'s rows: on two threads for a big frame.
  template <typename Rows>
  void inTwoHalves(const AVFrame& source, const Rows& rows) const;

  int threads_;
  UniqueAVFrame narrow_;                // the 8-bit copy, reused
  UniqueAVBufferRef narrow_buffer_;     // its pixels
  std::vector<std::pair<ContextKey, UniqueSwsContext>> contexts_;  // most recent last
};

}  // namespace framewire
