// MovieIndexCodec: a MovieIndex as bytes and back, the file format of the IndexStore.
//
// Layout (all integers little-endian; "varint" is LEB128, "zigzag" maps signed to unsigned):
//   "FWINDEX\n"                8 bytes of magic
//   format version             u32 (kFormatVersion; other versions are refused)
//   path                       varint length + bytes
//   signature                  u64 size, i64 mtime_ns, u64 inode, version (string), u64
//                              content hash
//   metadata                   container, codec, pixel format (strings); width, height, bit
//                              depth (varints); fps, duration, start time (f64); time base
//                              (2 x i32); file size (u64); source (u8); stream index (varint)
//   packets                    varint count; each: flags (u8: keyframe, discard, no pts,
//                              no dts), zigzag deltas of pts, dts and pos from the previous one
//   frames (kDecodeScan only)  varint count; each: keyframe (u8), zigzag delta of pts
//   checksum                   u64 XXH64 (seed 0) of every byte before it
// Deltas keep a 25,000-frame movie's table at a few bytes per packet. The frame table of
// pts-indexed movies is not stored: MovieIndex::finish() derives it from the packets, exactly
// as when the index was built.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/index/movie_index.h"

namespace framewire {

class MovieIndexCodec {
 public:
  static constexpr uint32_t kFormatVersion = 1;

  // `content_hash` identifies the movie's bytes beyond its signature (IndexStore: XXH64 of its
  // head and tail).
  static std::string encode(const MovieIndex& index, uint64_t content_hash);

  struct Decoded {
    std::shared_ptr<const MovieIndex> index;
    uint64_t content_hash = 0;
  };
  // The index in `bytes`. Wrong magic, another format version, a checksum mismatch or any
  // inconsistency: DECODE_ERROR saying which (the store then ignores the file).
  static Result<Decoded> decode(const std::string& bytes);
};

}  // namespace framewire
