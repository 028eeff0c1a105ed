// OutputImage: one frame's output as payload parts plus the planes that describe them.
//
// This is the shape a FrameHeader needs (pixel format, planes with part/offset/stride/
// row_bytes/rows, sample_bytes, size) before the parts are numbered within a whole reply.
// describeFrame() turns any AVFrame into one without copying: each part points into one of
// the frame's AVBufferRefs and keeps a reference to it, so the pixels live exactly as long as
// some reply still needs them.
//
// Thread-safety: plain values; the buffers behind the parts are immutable once described.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/worker_reply.h"

namespace framewire {

struct ImagePlane {
  uint32_t part = 0;     // index into OutputImage::parts
  uint64_t offset = 0;   // of the first row inside that part
  uint32_t stride = 0;   // bytes from one row to the next
  uint32_t row_bytes = 0;
  uint32_t rows = 0;
};

struct OutputImage {
  std::vector<PayloadPart> parts;
  std::vector<ImagePlane> planes;
  int width = 0;
  int height = 0;
  std::string pixel_format;  // FFmpeg's name ("yuv422p10le", "rgb24"), or the encoder's input
  int sample_bytes = 1;      // bytes per sample: 1, or 2 for 9..16 bit formats
  uint64_t size = 0;         // bytes of pixels (or of the image file) without row padding
};

// Row bytes and rows of each plane of a `format` picture, in FFmpeg's plane order; palette
// formats get the 1024-byte palette as a last plane (as `-f rawvideo` writes it).
struct PlaneShape {
  int row_bytes = 0;
  int rows = 0;
};
Result<std::vector<PlaneShape>> planeShapes(AVPixelFormat format, int width, int height);

// Bytes per sample of `format`: 1, or 2 for 9..16 bit formats.
int sampleBytes(AVPixelFormat format);

// Describes `frame`'s pixels zero-copy. When a plane does not lie inside the frame's buffers
// (or runs bottom-up), the pixels are instead copied into one packed buffer.
Result<OutputImage> describeFrame(const AVFrame& frame);

// An encoded image file held by `owner`: one plane, rows = 1, row_bytes = stride = size.
OutputImage describeEncodedImage(std::shared_ptr<const void> owner, const uint8_t* data,
                                 size_t size, int width, int height, const std::string& pixel_format);

}  // namespace framewire
