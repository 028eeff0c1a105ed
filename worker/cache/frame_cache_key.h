// The key of one cached output frame: which file (path and signature), which frame, and
// every output parameter that changes the bytes (format, encoding, quality, crop, size).
//
// The RAM tier (frame_cache.h) and the disk tier (disk_cache.h) use the same key text; the
// disk tier stores it inside each entry and compares it on every read, so a hash collision
// of file names can never serve another frame. The text starts with a format version and
// the FFmpeg library versions that produce the bytes: a framewire or FFmpeg upgrade that
// could change decoded or converted pixels makes new keys instead of serving old bytes.
//
// A movie that changed on disk (size, mtime or inode differ) gets a new signature and so
// new keys: its old entries are never hit again and age out of the LRU tiers.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "worker/index/movie_index.h"
#include "worker/output/output_spec.h"

namespace framewire {

// Bump when the bytes a key stands for could change for the same inputs (conversion
// flags, plane layout, the disk entry format).
inline constexpr int kFrameCacheKeyVersion = 1;

// One version of one movie (path and signature): the part of a key that names the file.
std::string movieVersionKey(const std::string& canonical_path, const FileSignature& signature);

// Everything but the frame number: computed once per request.
std::string frameCacheKeyPrefix(const std::string& canonical_path, const FileSignature& signature,
                                const OutputSpec& spec);

// The key of frame `frame` under `prefix`.
std::string frameCacheKey(const std::string& prefix, int64_t frame);

}  // namespace framewire
