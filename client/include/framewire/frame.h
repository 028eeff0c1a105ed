// Frame: one decoded (or image-encoded) frame as the server sent it, without a copy.
//
// A Frame holds a reference to the ZeroMQ message parts of the reply it came from; its planes
// point straight into those parts. The frames of one getFrames() reply share the parts, which
// are freed when the last of those frames is destroyed. Copying a Frame is cheap (it copies
// the reference, never the pixels); packedBytes() is the one call that copies, by design.
//
// Thread-safety: a Frame is immutable after construction. Distinct Frames (even ones sharing a
// reply) may be used and destroyed on different threads; a single Frame may be read from
// several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace framewire {

// Time spent per stage, in microseconds (proto::Timings).
struct StageTimings {
  int64_t queueUs = 0;    // waiting in the broker's queue
  int64_t readUs = 0;     // reading and demuxing
  int64_t decodeUs = 0;   // decoding
  int64_t convertUs = 0;  // pixel format conversion, crop, resize
  int64_t encodeUs = 0;   // png/jpeg/bmp encoding
  int64_t totalUs = 0;    // the whole request inside the worker (queue excluded)
};

// Where a frame came from inside the worker (proto::CacheTier).
enum class CacheTier { kNone = 0, kMemory = 1, kDisk = 2 };

// One plane of a frame: `rows` rows of `rowBytes` pixel bytes, `stride` bytes apart.
struct FramePlane {
  const uint8_t* data = nullptr;  // first row, inside a received message part
  size_t stride = 0;              // bytes from one row to the next (>= rowBytes)
  size_t rowBytes = 0;            // pixel bytes per row (no padding)
  size_t rows = 0;

  const uint8_t* row(size_t r) const { return data + r * stride; }
  size_t packedSize() const { return rowBytes * rows; }
};

class Frame {
 public:
  // Everything a Frame describes, filled in by the reply decoder (client/reply_decoding.h).
  struct Fields {
    int64_t index = 0;
    int64_t pts = 0;
    double time = 0;
    bool keyframe = false;
    int width = 0;
    int height = 0;
    std::string format;       // requested output format: "native", "rgb24", ...
    std::string pixelFormat;  // FFmpeg's name of the payload's pixels: "yuv422p10le", "rgb24"
    std::string encoding;     // "raw", "png", "jpeg", "bmp"
    int sampleBytes = 1;      // 1, or 2 for formats deeper than 8 bits (little endian)
    uint64_t size = 0;        // payload bytes of this frame, as the header states
    CacheTier cached = CacheTier::kNone;
    StageTimings timings;         // this frame's stages
    StageTimings requestTimings;  // totals over the whole request (queue time included)
    std::string worker;           // name of the worker that answered
    std::vector<FramePlane> planes;
  };

  Frame() = default;
  // `owner` keeps the memory that `fields.planes` point into alive.
  Frame(Fields fields, std::shared_ptr<const void> owner)
      : fields_(std::move(fields)), owner_(std::move(owner)) {}

  int64_t index() const { return fields_.index; }   // 0-based, presentation order
  int64_t pts() const { return fields_.pts; }       // in the stream's time base (MovieInfo)
  double time() const { return fields_.time; }      // seconds from the movie's start
  bool keyframe() const { return fields_.keyframe; }
  int width() const { return fields_.width; }
  int height() const { return fields_.height; }
  const std::string& format() const { return fields_.format; }
  const std::string& pixelFormat() const { return fields_.pixelFormat; }
  const std::string& encoding() const { return fields_.encoding; }
  int sampleBytes() const { return fields_.sampleBytes; }
  uint64_t size() const { return fields_.size; }
  CacheTier cached() const { return fields_.cached; }
  const StageTimings& timings() const { return fields_.timings; }
  const StageTimings& requestTimings() const { return fields_.requestTimings; }
  const std::string& worker() const { return fields_.worker; }

  // Raw encodings: every plane in FFmpeg's order (one for packed formats, Y,U,V[,A] or
  // G,B,R[,A] for planar native formats). Encoded frames: one plane holding the image file.
  const std::vector<FramePlane>& planes() const { return fields_.planes; }

  // True for png/jpeg/bmp: the payload is an image file, see encodedData().
  bool isEncoded() const { return !fields_.encoding.empty() && fields_.encoding != "raw"; }
  // The image file's bytes (encoded frames only; nullptr and 0 for raw frames).
  const uint8_t* encodedData() const;
  size_t encodedSize() const;

  // Sum of the planes' rows without padding: the layout `ffmpeg -f rawvideo -pix_fmt
  // <pixelFormat()>` writes. For encoded frames, the image file. Copies.
  size_t packedSize() const;
  std::vector<uint8_t> packedBytes() const;
  // Same, into `out` (which must hold packedSize() bytes); for callers with their own buffers.
  void copyPackedTo(uint8_t* out) const;

 private:
  Fields fields_;
  std::shared_ptr<const void> owner_;
};

}  // namespace framewire
