#include "worker/cache/disk_cache_entry.h"

#include <cstring>

#include "common/xxhash64.h"

namespace framewire {
namespace {

constexpr char kMagic[8] = {'F', 'W', 'F', 'R', 'A', 'M', 'E', '\0'};
constexpr size_t kFixedHeader = 32;  // magic, version, header_bytes, payload_bytes, checksum
constexpr size_t kChecksumOffset = 24;
constexpr size_t kPayloadAlignment = 64;
// Sanity bounds for what a header may claim, so a damaged length cannot make us allocate or
// loop wildly.
constexpr uint32_t kMaxKeyBytes = 1 << 20;
constexpr uint32_t kMaxPlanes = 8;
constexpr uint32_t kMaxPixelFormatBytes = 64;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void text(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void put64At(size_t offset, uint64_t v) {
    for (int i = 0; i < 8; ++i) out_[offset + i] = static_cast<char>(v >> (8 * i));
  }
  void put32At(size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) out_[offset + i] = static_cast<char>(v >> (8 * i));
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Reads with bounds checks; any read past the end marks the reader failed.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool ok() const { return ok_; }
  size_t position() const { return pos_; }
  void seek(size_t pos) {
    if (pos > size_) ok_ = false;
    else pos_ = pos;
  }
  uint64_t unsignedLE(int bytes) {
    if (!ok_ || size_ - pos_ < size_t(bytes)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(data_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(unsignedLE(1)); }
  uint32_t u32() { return static_cast<uint32_t>(unsignedLE(4)); }
  uint64_t u64() { return unsignedLE(8); }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64() {
    const uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  bool text(std::string* s, uint32_t max_bytes) {
    const uint32_t n = u32();
    if (!ok_ || n > max_bytes || size_ - pos_ < n) {
      ok_ = false;
      return false;
    }
    s->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }
  // Compares the next length-prefixed text with `expected` without copying it.
  bool textEquals(const std::string& expected, uint32_t max_bytes, bool* equal) {
    const uint32_t n = u32();
    if (!ok_ || n > max_bytes || size_ - pos_ < n) {
      ok_ = false;
      return false;
    }
    *equal = n == expected.size() && std::memcmp(data_ + pos_, expected.data(), n) == 0;
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status damaged(const std::string& what) { return Status::decodeError("damaged disk cache entry: " + what); }

}  // namespace

EncodedDiskEntry encodeDiskEntry(const std::string& key, const CachedFrame& frame) {
  EncodedDiskEntry entry;
  const OutputImage& image = frame.image;
  std::vector<uint64_t> part_start;
  for (const PayloadPart& part : image.parts) {
    part_start.push_back(entry.payload_bytes);
    entry.payload_bytes += part.size;
    entry.payload.push_back(part);
  }

  Writer w;
  w.out().append(kMagic, sizeof kMagic);
  w.u32(kDiskEntryVersion);
  w.u32(0);  // header_bytes, below
  w.u64(entry.payload_bytes);
  w.u64(0);  // checksum, below
  w.text(key);
  w.i64(frame.index);
  w.i64(frame.pts);
  w.f64(frame.time);
  w.u8(frame.keyframe ? 1 : 0);
  w.i32(image.width);
  w.i32(image.height);
  w.i32(image.sample_bytes);
  w.u64(image.size);
  w.text(image.pixel_format);
  w.u32(static_cast<uint32_t>(image.planes.size()));
  for (const ImagePlane& plane : image.planes) {
    const uint64_t start = plane.part < part_start.size() ? part_start[plane.part] : 0;
    w.u64(start + plane.offset);
    w.u32(plane.stride);
    w.u32(plane.row_bytes);
    w.u32(plane.rows);
  }
  const size_t header_bytes = (w.out().size() + kPayloadAlignment - 1) / kPayloadAlignment * kPayloadAlignment;
  w.out().resize(header_bytes, '\0');
  w.put32At(12, static_cast<uint32_t>(header_bytes));

  XxHash64 checksum(kDiskEntryVersion);
  checksum.update(w.out().data(), kChecksumOffset);
  checksum.update(w.out().data() + kFixedHeader, header_bytes - kFixedHeader);
  for (const PayloadPart& part : entry.payload) checksum.update(part.data, part.size);
  w.put64At(kChecksumOffset, checksum.digest());
  entry.header = std::move(w.out());
  return entry;
}

Result<CachedFramePtr> decodeDiskEntry(const std::string& key, std::shared_ptr<const void> owner,
                                       const uint8_t* data, size_t size) {
  if (size < kFixedHeader) return damaged("shorter than its header (" + std::to_string(size) + " bytes)");
  if (std::memcmp(data, kMagic, sizeof kMagic) != 0) return damaged("bad magic");
  Reader r(data, size);
  r.seek(8);
  const uint32_t version = r.u32();
  const uint32_t header_bytes = r.u32();
  const uint64_t payload_bytes = r.u64();
  const uint64_t stored_checksum = r.u64();
  if (version != kDiskEntryVersion) return damaged("format version " + std::to_string(version));
  if (header_bytes < kFixedHeader || header_bytes % kPayloadAlignment != 0 || header_bytes > size ||
      payload_bytes != size - header_bytes) {
    return damaged("its sizes do not match the file's " + std::to_string(size) + " bytes");
  }
  XxHash64 checksum(kDiskEntryVersion);
  checksum.update(data, kChecksumOffset);
  checksum.update(data + kFixedHeader, size - kFixedHeader);
  if (checksum.digest() != stored_checksum) return damaged("checksum mismatch");

  bool same_key = false;
  if (!r.textEquals(key, kMaxKeyBytes, &same_key)) return damaged("bad key field");
  if (!same_key) return Status::notFound("the disk cache entry holds another key");

  auto frame = std::make_shared<CachedFrame>();
  frame->index = r.i64();
  frame->pts = r.i64();
  frame->time = r.f64();
  frame->keyframe = r.u8() != 0;
  OutputImage& image = frame->image;
  image.width = r.i32();
  image.height = r.i32();
  image.sample_bytes = r.i32();
  image.size = r.u64();
  if (!r.text(&image.pixel_format, kMaxPixelFormatBytes)) return damaged("bad pixel format field");
  const uint32_t planes = r.u32();
  if (!r.ok() || planes == 0 || planes > kMaxPlanes) return damaged("bad plane count");
  for (uint32_t i = 0; i < planes; ++i) {
    ImagePlane plane;
    plane.part = 0;
    plane.offset = r.u64();
    plane.stride = r.u32();
    plane.row_bytes = r.u32();
    plane.rows = r.u32();
    if (!r.ok()) return damaged("truncated plane table");
    // The plane's last row must end inside the payload.
    const uint64_t end = plane.rows == 0 ? plane.offset
                                         : plane.offset + uint64_t(plane.stride) * (plane.rows - 1) + plane.row_bytes;
    if (plane.offset > payload_bytes || end > payload_bytes || (plane.rows > 1 && plane.stride < plane.row_bytes)) {
      return damaged("plane " + std::to_string(i) + " lies outside the payload");
    }
    image.planes.push_back(plane);
  }
  if (!r.ok() || r.position() > header_bytes) return damaged("header overruns its length");
  if (image.width <= 0 || image.height <= 0 || image.sample_bytes < 1 || image.sample_bytes > 2) {
    return damaged("bad picture size or sample size");
  }
  PayloadPart part;
  part.owner = std::move(owner);
  part.data = data + header_bytes;
  part.size = static_cast<size_t>(payload_bytes);
  image.parts.push_back(std::move(part));
  return CachedFramePtr(std::move(frame));
}

}  // namespace framewire
