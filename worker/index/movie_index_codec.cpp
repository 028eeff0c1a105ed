#include "worker/index/movie_index_codec.h"

#include <cstring>

#include "common/xxhash64.h"

extern "C" {
#include <libavutil/avutil.h>
}

namespace framewire {
namespace {

constexpr char kMagic[8] = {'F', 'W', 'I', 'N', 'D', 'E', 'X', '\n'};
// Far more than any real movie has; a count beyond it means a damaged file, not an allocation.
constexpr uint64_t kMaxEntries = 100'000'000;
constexpr uint64_t kMaxString = 1 << 16;

enum PacketFlags : uint8_t { kKeyframe = 1, kDiscard = 2, kNoPts = 4, kNoDts = 8 };

class Writer {
 public:
  void bytes(const void* data, size_t size) { out_.append(static_cast<const char*>(data), size); }
  void u8(uint8_t v) { out_.push_back(char(v)); }
  void fixed(uint64_t v, int size) {
    for (int i = 0; i < size; ++i) out_.push_back(char((v >> (8 * i)) & 0xff));
  }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(char((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(char(v));
  }
  void zigzag(int64_t v) { varint((uint64_t(v) << 1) ^ uint64_t(v >> 63)); }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    fixed(bits, 8);
  }
  void string(const std::string& s) {
    varint(s.size());
    bytes(s.data(), s.size());
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Reads with bounds checks; the first failure sticks and every later read returns zeros.
class Reader {
 public:
  Reader(const std::string& in, size_t end) : in_(in), end_(end) {}
  bool ok() const { return ok_; }
  size_t position() const { return at_; }
  uint8_t u8() { return uint8_t(take(1) ? in_[at_ - 1] : 0); }
  uint64_t fixed(int size) {
    if (!take(size_t(size))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v |= uint64_t(uint8_t(in_[at_ - size + i])) << (8 * i);
    return v;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t byte = u8();
      if (!ok_) return 0;
      v |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    ok_ = false;  // more than 10 bytes: not a varint we wrote
    return 0;
  }
  int64_t zigzag() {
    const uint64_t v = varint();
    return int64_t(v >> 1) ^ -int64_t(v & 1);
  }
  double f64() {
    const uint64_t bits = fixed(8);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string string() {
    const uint64_t size = varint();
    if (size > kMaxString || !take(size_t(size))) {
      ok_ = false;
      return {};
    }
    return in_.substr(at_ - size_t(size), size_t(size));
  }
  // A count of entries that each take at least `min_bytes`: refused when they cannot fit.
  uint64_t count(size_t min_bytes) {
    const uint64_t n = varint();
    if (n > kMaxEntries || n > (end_ - at_) / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  bool take(size_t n) {
    if (!ok_ || n > end_ - at_) {
      ok_ = false;
      return false;
    }
    at_ += n;
    return true;
  }
  const std::string& in_;
  const size_t end_;
  size_t at_ = 0;
  bool ok_ = true;
};

Status damaged(const std::string& what) { return Status::decodeError("index file: " + what); }

}  // namespace

std::string MovieIndexCodec::encode(const MovieIndex& index, uint64_t content_hash) {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.fixed(kFormatVersion, 4);
  w.string(index.path_);
  w.fixed(index.signature_.size, 8);
  w.fixed(uint64_t(index.signature_.mtime_ns), 8);
  w.fixed(index.signature_.inode, 8);
  w.string(index.signature_.version);
  w.fixed(content_hash, 8);
  const MovieMetadata& m = index.metadata_;
  w.string(m.container);
  w.string(m.codec);
  w.string(m.pixel_format);
  w.varint(uint64_t(m.width));
  w.varint(uint64_t(m.height));
  w.varint(uint64_t(m.bit_depth));
  w.f64(m.fps);
  w.f64(m.duration);
  w.f64(m.start_time);
  w.fixed(uint32_t(m.time_base.num), 4);
  w.fixed(uint32_t(m.time_base.den), 4);
  w.fixed(m.file_size, 8);
  w.u8(uint8_t(index.source_));
  w.varint(uint64_t(index.stream_index_));

  w.varint(index.packets_.size());
  int64_t pts = 0, dts = 0, pos = 0;
  for (const IndexedPacket& p : index.packets_) {
    uint8_t flags = 0;
    if (p.keyframe) flags |= kKeyframe;
    if (p.discard) flags |= kDiscard;
    if (p.pts == AV_NOPTS_VALUE) flags |= kNoPts;
    if (p.dts == AV_NOPTS_VALUE) flags |= kNoDts;
    w.u8(flags);
    if (p.pts != AV_NOPTS_VALUE) {
      w.zigzag(p.pts - pts);
      pts = p.pts;
    }
    if (p.dts != AV_NOPTS_VALUE) {
      w.zigzag(p.dts - dts);
      dts = p.dts;
    }
    w.zigzag(p.pos - pos);
    pos = p.pos;
  }
  if (index.source_ == IndexSource::kDecodeScan) {
    w.varint(index.frames_.size());
    int64_t frame_pts = 0;
    for (const IndexedFrame& f : index.frames_) {
      w.u8(f.keyframe ? 1 : 0);
      w.zigzag(f.pts - frame_pts);
      frame_pts = f.pts;
    }
  }
  const uint64_t checksum = xxhash64(w.out().data(), w.out().size(), 0);
  w.fixed(checksum, 8);
  return std::move(w.out());
}

Result<MovieIndexCodec::Decoded> MovieIndexCodec::decode(const std::string& bytes) {
  if (bytes.size() < sizeof kMagic + 4 + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return damaged("not a framewire index");
  }
  const size_t body = bytes.size() - 8;
  {
    Reader r(bytes, bytes.size());
    r.fixed(8);
    const uint32_t version = uint32_t(r.fixed(4));
    if (version != kFormatVersion) {
      return damaged("format version " + std::to_string(version) + ", this worker reads " +
                     std::to_string(kFormatVersion));
    }
  }
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= uint64_t(uint8_t(bytes[body + size_t(i)])) << (8 * i);
  if (xxhash64(bytes.data(), body, 0) != stored) return damaged("checksum mismatch");

  Reader r(bytes, body);
  r.fixed(8 + 4);
  std::shared_ptr<MovieIndex> index(new MovieIndex());
  Decoded decoded;
  index->path_ = r.string();
  index->signature_.size = r.fixed(8);
  index->signature_.mtime_ns = int64_t(r.fixed(8));
  index->signature_.inode = r.fixed(8);
  index->signature_.version = r.string();
  decoded.content_hash = r.fixed(8);
  MovieMetadata& m = index->metadata_;
  m.container = r.string();
  m.codec = r.string();
  m.pixel_format = r.string();
  m.width = int(r.varint());
  m.height = int(r.varint());
  m.bit_depth = int(r.varint());
  m.fps = r.f64();
  m.duration = r.f64();
  m.start_time = r.f64();
  m.time_base.num = int32_t(uint32_t(r.fixed(4)));
  m.time_base.den = int32_t(uint32_t(r.fixed(4)));
  m.file_size = r.fixed(8);
  const uint8_t source = r.u8();
  index->stream_index_ = int(r.varint());
  if (source > uint8_t(IndexSource::kDecodeScan)) return damaged("unknown index source");
  index->source_ = IndexSource(source);
  if (m.time_base.num <= 0 || m.time_base.den <= 0) return damaged("bad time base");

  const uint64_t packets = r.count(2);
  index->packets_.resize(size_t(packets));
  int64_t pts = 0, dts = 0, pos = 0;
  for (IndexedPacket& p : index->packets_) {
    const uint8_t flags = r.u8();
    p.keyframe = flags & kKeyframe;
    p.discard = flags & kDiscard;
    if (flags & kNoPts) {
      p.pts = AV_NOPTS_VALUE;
    } else {
      pts += r.zigzag();
      p.pts = pts;
    }
    if (flags & kNoDts) {
      p.dts = AV_NOPTS_VALUE;
    } else {
      dts += r.zigzag();
      p.dts = dts;
    }
    pos += r.zigzag();
    p.pos = pos;
  }
  if (index->source_ == IndexSource::kDecodeScan) {
    const uint64_t frames = r.count(2);
    index->frames_.resize(size_t(frames));
    int64_t frame_pts = 0;
    for (IndexedFrame& f : index->frames_) {
      f.keyframe = r.u8() != 0;
      frame_pts += r.zigzag();
      f.pts = frame_pts;
    }
    if (frames == 0) return damaged("no frames");
  }
  if (!r.ok()) return damaged("truncated or inconsistent");
  if (r.position() != body) return damaged("unexpected bytes after the tables");
  if (index->packets_.empty() && index->source_ != IndexSource::kDecodeScan) return damaged("no packets");

  // The frame table, seek points and lookups, exactly as build() made them.
  const IndexSource expected = index->source_;
  FW_RETURN_IF_ERROR(index->finish());
  if (index->source_ != expected) return damaged("the packet table does not give the stored frames");
  decoded.index = std::move(index);
  return decoded;
}

}  // namespace framewire
