#include "worker/output/output_image.h"

#include <algorithm>
#include <map>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace framewire {
namespace {

std::string pixelFormatName(AVPixelFormat format) {
  const char* name = av_get_pix_fmt_name(format);
  return name ? name : "unknown";
}

// Copies the frame's pixels into one packed buffer (the layout of `-f rawvideo`).
Result<OutputImage> copyFrame(const AVFrame& frame, const std::vector<PlaneShape>& shapes) {
  const auto format = static_cast<AVPixelFormat>(frame.format);
  const int size = av_image_get_buffer_size(format, frame.width, frame.height, 1);
  if (size < 0) return Status::internal("cannot size a " + pixelFormatName(format) + " picture");
  UniqueAVBufferRef buffer(av_buffer_alloc(static_cast<size_t>(size)));
  if (!buffer) return Status::internal("out of memory copying a frame");
  const int copied = av_image_copy_to_buffer(buffer->data, size, frame.data, frame.linesize, format,
                                             frame.width, frame.height, 1);
  if (copied < 0) return Status::internal("cannot copy a frame: " + avErrorString(copied));
  OutputImage image;
  PayloadPart part;
  part.owner = shareBuffer(buffer.get());
  part.data = buffer->data;
  part.size = static_cast<size_t>(size);
  image.parts.push_back(part);
  uint64_t offset = 0;
  for (const PlaneShape& shape : shapes) {
    ImagePlane plane;
    plane.part = 0;
    plane.offset = offset;
    plane.stride = static_cast<uint32_t>(shape.row_bytes);
    plane.row_bytes = static_cast<uint32_t>(shape.row_bytes);
    plane.rows = static_cast<uint32_t>(shape.rows);
    offset += uint64_t(shape.row_bytes) * uint64_t(shape.rows);
    image.planes.push_back(plane);
  }
  return image;
}

}  // namespace

Result<std::vector<PlaneShape>> planeShapes(AVPixelFormat format, int width, int height) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc || (desc->flags & AV_PIX_FMT_FLAG_HWACCEL)) {
    return Status::internal("unsupported pixel format " + pixelFormatName(format));
  }
  int linesizes[4] = {0};
  if (av_image_fill_linesizes(linesizes, format, width) < 0) {
    return Status::internal("cannot lay out a " + pixelFormatName(format) + " picture");
  }
  std::vector<PlaneShape> shapes;
  const int planes = av_pix_fmt_count_planes(format);
  for (int i = 0; i < planes; ++i) {
    const bool chroma = (i == 1 || i == 2);
    PlaneShape shape;
    shape.row_bytes = linesizes[i];
    shape.rows = chroma ? AV_CEIL_RSHIFT(height, desc->log2_chroma_h) : height;
    shapes.push_back(shape);
  }
  if (desc->flags & AV_PIX_FMT_FLAG_PAL) shapes.push_back({AVPALETTE_SIZE, 1});
  return shapes;
}

int sampleBytes(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc || desc->nb_components == 0) return 1;
  return (desc->comp[0].depth + 7) / 8;
}

Result<OutputImage> describeFrame(const AVFrame& frame) {
  const auto format = static_cast<AVPixelFormat>(frame.format);
  FW_ASSIGN_OR_RETURN(std::vector<PlaneShape> shapes, planeShapes(format, frame.width, frame.height));

  // Where each plane lies: which buffer, and the span of bytes it touches.
  struct Placement {
    int buffer = -1;
    const uint8_t* begin = nullptr;
    const uint8_t* end = nullptr;
  };
  std::vector<Placement> placements(shapes.size());
  bool zero_copy = shapes.size() <= 4;  // AVFrame.data has room for 8, buf for 8; be plain
  for (size_t i = 0; zero_copy && i < shapes.size(); ++i) {
    const uint8_t* data = frame.data[i];
    const int linesize = frame.linesize[i];
    if (!data || linesize < shapes[i].row_bytes || shapes[i].rows <= 0) {
      zero_copy = false;
      break;
    }
    const uint8_t* begin = data;
    const uint8_t* end = data + size_t(linesize) * size_t(shapes[i].rows - 1) + size_t(shapes[i].row_bytes);
    for (int b = 0; b < AV_NUM_DATA_POINTERS && frame.buf[b]; ++b) {
      const uint8_t* buffer_begin = frame.buf[b]->data;
      const uint8_t* buffer_end = buffer_begin + frame.buf[b]->size;
      if (begin >= buffer_begin && end <= buffer_end) {
        placements[i] = {b, begin, end};
        break;
      }
    }
    if (placements[i].buffer < 0) zero_copy = false;
  }
  if (!zero_copy) {
    FW_ASSIGN_OR_RETURN(OutputImage copy, copyFrame(frame, shapes));
    copy.width = frame.width;
    copy.height = frame.height;
    copy.pixel_format = pixelFormatName(format);
    copy.sample_bytes = sampleBytes(format);
    for (const PlaneShape& shape : shapes) copy.size += uint64_t(shape.row_bytes) * uint64_t(shape.rows);
    return copy;
  }

  OutputImage image;
  image.width = frame.width;
  image.height = frame.height;
  image.pixel_format = pixelFormatName(format);
  image.sample_bytes = sampleBytes(format);
  // One part per buffer, spanning just the bytes its planes touch (not the pool's padding).
  std::map<int, std::pair<const uint8_t*, const uint8_t*>> spans;
  for (const Placement& p : placements) {
    auto [it, inserted] = spans.emplace(p.buffer, std::make_pair(p.begin, p.end));
    if (!inserted) {
      it->second.first = std::min(it->second.first, p.begin);
      it->second.second = std::max(it->second.second, p.end);
    }
  }
  std::map<int, uint32_t> part_of_buffer;
  for (const auto& [buffer, span] : spans) {
    PayloadPart part;
    part.owner = shareBuffer(frame.buf[buffer]);
    if (!part.owner) return Status::internal("out of memory referencing a frame buffer");
    part.data = span.first;
    part.size = static_cast<size_t>(span.second - span.first);
    part_of_buffer[buffer] = static_cast<uint32_t>(image.parts.size());
    image.parts.push_back(std::move(part));
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    ImagePlane plane;
    plane.part = part_of_buffer[placements[i].buffer];
    plane.offset = static_cast<uint64_t>(placements[i].begin - spans[placements[i].buffer].first);
    plane.stride = static_cast<uint32_t>(frame.linesize[i]);
    plane.row_bytes = static_cast<uint32_t>(shapes[i].row_bytes);
    plane.rows = static_cast<uint32_t>(shapes[i].rows);
    image.size += uint64_t(plane.row_bytes) * plane.rows;
    image.planes.push_back(plane);
  }
  return image;
}

OutputImage describeEncodedImage(std::shared_ptr<const void> owner, const uint8_t* data,
                                 size_t size, int width, int height,
                                 const std::string& pixel_format) {
  OutputImage image;
  PayloadPart part;
  part.owner = std::move(owner);
  part.data = data;
  part.size = size;
  image.parts.push_back(std::move(part));
  ImagePlane plane;
  plane.part = 0;
  plane.offset = 0;
  plane.stride = static_cast<uint32_t>(size);
  plane.row_bytes = static_cast<uint32_t>(size);
  plane.rows = 1;
  image.planes.push_back(plane);
  image.width = width;
  image.height = height;
  image.pixel_format = pixel_format;
  image.sample_bytes = 1;
  image.size = size;
  return image;
}

}  // namespace framewire
