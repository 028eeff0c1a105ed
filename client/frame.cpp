#include "framewire/frame.h"

#include <cstring>

namespace framewire {

const uint8_t* Frame::encodedData() const {
  if (!isEncoded() || fields_.planes.empty()) return nullptr;
  return fields_.planes[0].data;
}

size_t Frame::encodedSize() const {
  if (!isEncoded() || fields_.planes.empty()) return 0;
  return fields_.planes[0].packedSize();
}

size_t Frame::packedSize() const {
  size_t total = 0;
  for (const FramePlane& plane : fields_.planes) total += plane.packedSize();
  return total;
}

void Frame::copyPackedTo(uint8_t* out) const {
  for (const FramePlane& plane : fields_.planes) {
    if (plane.packedSize() == 0) continue;
    if (plane.stride == plane.rowBytes) {
      // Unpadded plane: one copy of all its rows.
      std::memcpy(out, plane.data, plane.packedSize());
      out += plane.packedSize();
      continue;
    }
    for (size_t r = 0; r < plane.rows; ++r) {
      std::memcpy(out, plane.row(r), plane.rowBytes);
      out += plane.rowBytes;
    }
  }
}

std::vector<uint8_t> Frame::packedBytes() const {
  std::vector<uint8_t> bytes(packedSize());
  if (!bytes.empty()) copyPackedTo(bytes.data());
  return bytes;
}

}  // namespace framewire
