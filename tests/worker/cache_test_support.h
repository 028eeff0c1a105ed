// Frames made up for the cache tests: a CachedFrame over a buffer of known bytes, and a way to
// tell whether the buffer behind a frame is still alive.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "worker/cache/frame_cache.h"

namespace framewire::testing {

// A gray8 `width`x`height` frame numbered `index` whose pixel bytes are (seed + i) % 251.
// `owner_out` (optional) receives a weak reference to its buffer.
inline std::shared_ptr<CachedFrame> fakeFrame(int64_t index, int width = 64, int height = 48, int seed = 0,
                                              std::weak_ptr<const void>* owner_out = nullptr) {
  const size_t size = size_t(width) * size_t(height);
  std::shared_ptr<uint8_t[]> pixels(new uint8_t[size]);
  for (size_t i = 0; i < size; ++i) pixels[i] = static_cast<uint8_t>((seed + i) % 251);
  auto frame = std::make_shared<CachedFrame>();
  frame->index = index;
  frame->pts = index * 512;
  frame->time = index / 24.0;
  frame->keyframe = index % 12 == 0;
  OutputImage& image = frame->image;
  image.width = width;
  image.height = height;
  image.pixel_format = "gray";
  image.sample_bytes = 1;
  image.size = size;
  PayloadPart part;
  part.owner = std::shared_ptr<const void>(pixels, pixels.get());
  part.data = pixels.get();
  part.size = size;
  if (owner_out) *owner_out = part.owner;
  image.parts.push_back(std::move(part));
  ImagePlane plane;
  plane.stride = static_cast<uint32_t>(width);
  plane.row_bytes = static_cast<uint32_t>(width);
  plane.rows = static_cast<uint32_t>(height);
  image.planes.push_back(plane);
  return frame;
}

// The frame's pixels, planes concatenated without padding.
inline std::vector<uint8_t> pixelsOf(const CachedFrame& frame) {
  std::vector<uint8_t> out;
  for (const ImagePlane& plane : frame.image.planes) {
    const uint8_t* base = frame.image.parts.at(plane.part).data + plane.offset;
    for (uint32_t r = 0; r < plane.rows; ++r) {
      out.insert(out.end(), base + size_t(r) * plane.stride, base + size_t(r) * plane.stride + plane.row_bytes);
    }
  }
  return out;
}

}  // namespace framewire::testing
