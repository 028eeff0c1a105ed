#include "worker/cache/frame_cache_key.h"

extern "C" {
#include <libavcodec/version.h>
#include <libswscale/version.h>
}

namespace framewire {

// Keys name every field of FileSignature. When it grows (say, a content hash), add the new
// field below and bump kFrameCacheKeyVersion; this assertion is the reminder.
static_assert(sizeof(FileSignature) == 24 + sizeof(std::string), "FileSignature changed: update frameCacheKeyPrefix()");

std::string movieVersionKey(const std::string& canonical_path, const FileSignature& signature) {
  std::string key;
  key.reserve(96 + canonical_path.size());
  // Length-prefixed: a path may hold any byte but NUL, newlines included.
  key += "movie " + std::to_string(canonical_path.size()) + ":" + canonical_path + "\n";
  key += "file size " + std::to_string(signature.size) + " mtime_ns " + std::to_string(signature.mtime_ns) +
         " inode " + std::to_string(signature.inode) + "\n";
  // A remote file's validators (ETag, Last-Modified); empty for local files. Length-prefixed
  // like the path: servers put any text in an ETag.
  key += "version " + std::to_string(signature.version.size()) + ":" + signature.version + "\n";
  return key;
}

std::string frameCacheKeyPrefix(const std::string& canonical_path, const FileSignature& signature,
                                const OutputSpec& spec) {
  std::string key;
  key.reserve(192 + canonical_path.size());
  key += "framewire-frame v" + std::to_string(kFrameCacheKeyVersion);
  key += " lavc " + std::to_string(LIBAVCODEC_VERSION_INT);
  key += " sws " + std::to_string(LIBSWSCALE_VERSION_INT) + "\n";
  key += movieVersionKey(canonical_path, signature);
  key += "output format " + spec.format_name + " encoding " + spec.encoding_name + " quality " +
         std::to_string(spec.quality);
  if (spec.crop) {
    key += " crop " + std::to_string(spec.crop_rect.x) + "," + std::to_string(spec.crop_rect.y) + "," +
           std::to_string(spec.crop_rect.width) + "," + std::to_string(spec.crop_rect.height);
  } else {
    key += " crop none";
  }
  key += " size " + std::to_string(spec.width) + "x" + std::to_string(spec.height) + "\n";
  return key;
}

std::string frameCacheKey(const std::string& prefix, int64_t frame) {
  return prefix + "frame " + std::to_string(frame);
}

}  // namespace framewire
