// The file format of one disk cache entry: a checksummed header naming the key and the frame,
// then the frame's pixels, ready to be mapped and sent as they are.
//
//   offset  size  field (little endian)
//   0       8     magic "FWFRAME\0"
//   8       4     format version (kDiskEntryVersion)
//   12      4     header_bytes: where the payload starts (a multiple of 64)
//   16      8     payload_bytes
//   24      8     checksum: XXH64, seed = version, over bytes [0, 24) and [32, end of file)
//   32      ...   key (u32 length + bytes); index, pts (i64); time (f64); keyframe (u8);
//                 width, height, sample_bytes (i32); size (u64); pixel format (u32 length +
//                 bytes); planes (u32 count, then per plane: offset u64, stride, row_bytes,
//                 rows u32); zero padding up to header_bytes
//   header_bytes  payload_bytes  the pixels: every payload part of the frame back to back;
//                 plane offsets count from the start of the payload (one part on reading)
//
// A file whose size, magic, version, checksum or layout does not add up is damaged, and
// decodeDiskEntry() says so instead of returning a frame; the checksum covers every byte but
// itself, so a flipped bit anywhere is caught. The key is compared in full, so a file-name
// collision is a miss, never another frame.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/cache/frame_cache.h"

namespace framewire {

inline constexpr uint32_t kDiskEntryVersion = 1;

struct EncodedDiskEntry {
  std::string header;                // header_bytes bytes, checksum filled in
  std::vector<PayloadPart> payload;  // written after the header, in order
  uint64_t payload_bytes = 0;
  uint64_t fileBytes() const { return header.size() + payload_bytes; }
};

// The entry for `frame` under `key` (computes the checksum over the pixels: one pass).
EncodedDiskEntry encodeDiskEntry(const std::string& key, const CachedFrame& frame);

// Parses and verifies an entry held in memory at [data, data + size), kept alive by `owner`.
// The frame's single payload part points into that memory (no copy). A damaged entry:
// DECODE_ERROR naming what is wrong. An intact entry of another key: NOT_FOUND.
Result<CachedFramePtr> decodeDiskEntry(const std::string& key, std::shared_ptr<const void> owner,
                                       const uint8_t* data, size_t size);

}  // namespace framewire
