// OutputSpec: what a FRAMES request wants done to each decoded frame (pixel format, image
// encoding, crop, resize), parsed and checked once per request; OutputGeometry: the same
// applied to one frame's size.
//
// Formats and encodings:
//   format   raw pixels                png        jpeg                bmp
//   native   the decoder's own format  -          -                   -
//   rgb24    rgb24                     rgb24      yuvj420p            bgr24
//   bgr24    bgr24                     rgb24      yuvj420p            bgr24
//   rgba     rgba                      rgba       -                   bgra
//   gray8    gray                      gray       yuvj420p (gray)     gray
//   gray16   gray16le                  gray16be   -                   -
// For an encoded image the format chooses the picture's color model (an image file has its
// own channel order), and the pixel format above is what the encoder is fed. "-" is refused
// with INVALID_ARGUMENT. Crop is applied before resize; a resize with one side 0 keeps the
// (cropped) aspect ratio.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "framewire_generated.h"

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace framewire {

enum class OutputFormat { kNative, kRgb24, kBgr24, kRgba, kGray8, kGray16 };
enum class ImageEncoding { kRaw, kPng, kJpeg, kBmp };

struct CropRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

struct OutputSpec {
  OutputFormat format = OutputFormat::kRgb24;
  std::string format_name = "rgb24";  // as it goes into FrameHeader.format
  ImageEncoding encoding = ImageEncoding::kRaw;
  std::string encoding_name = "raw";   // as it goes into FrameHeader.encoding
  int quality = 90;                    // jpeg quality 1..100
  bool crop = false;
  CropRect crop_rect;
  int width = 0;   // requested output size; 0 = keep, one 0 = keep the aspect ratio
  int height = 0;
};

// The largest output side accepted.
inline constexpr int kMaxOutputSide = 16384;
inline constexpr int kDefaultJpegQuality = 90;

// Checks names, quality and sizes. Unknown format or encoding, an unsupported combination,
// a negative or huge size, a crop without area: INVALID_ARGUMENT naming what is allowed.
Result<OutputSpec> parseOutputSpec(const proto::Request& request);

// The pixel format the converter must produce for `spec` (native: `native_format`).
AVPixelFormat targetPixelFormat(const OutputSpec& spec, AVPixelFormat native_format);

struct OutputGeometry {
  CropRect crop;  // always set: the whole frame when the request has no crop
  int width = 0;  // output size after crop and resize
  int height = 0;
  bool cropped = false;  // crop differs from the whole frame
  bool resized = false;  // output size differs from the crop
};

// Applies `spec` to a frame of frame_width x frame_height. A crop reaching outside the
// frame: INVALID_ARGUMENT with the frame's size.
Result<OutputGeometry> outputGeometry(const OutputSpec& spec, int frame_width, int frame_height);

}  // namespace framewire
