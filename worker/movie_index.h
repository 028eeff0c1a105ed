// MovieIndex: a movie's metadata and its frame table, the map from "frame n" to packets.
//
// Frame n is the n-th frame in presentation order, as `ffmpeg -map 0:v:0 -fps_mode
// passthrough` decodes it. The index holds two tables:
// - packets, in decode (file) order: timestamps, byte position, keyframe and discard flags.
//   Packets the container marks to be discarded (AV_PKT_FLAG_DISCARD / AVINDEX_DISCARD_FRAME:
//   edit lists that cut into a GOP) are kept here, because decoding may need them, but they
//   are not frames.
// - frames, in presentation order (sorted by pts), each pointing at its packet and at the
//   packet where decoding must start for it to come out right (its seek point).
//
// How the tables are built (IndexSource):
// - kContainerIndex: MOV/MP4 with an intra-only codec (ProRes, MJPEG...): the stream's index
//   entries, which the demuxer builds from the sample tables in the moov atom, so opening a
//   14 GB movie reads its moov, not 14 GB. Trusted only after cheap checks: every entry lies
//   inside the file (not truncated), the first packet the demuxer returns is the first entry
//   with pts == dts (no composition offsets), and the last entry is the last packet, complete
//   (no samples the demuxer has not indexed, e.g. fragments it did not read at open; FFmpeg
//   does read every fragment of a seekable fragmented MP4). Otherwise the next source is used.
// - kPacketScan: one pass of av_read_frame over the video stream, without decoding. MP4 with
//   B-frames lands here for now (FFmpeg's index entries carry decode timestamps only; the
//   composition offsets stay inside the demuxer).
// - kDecodeScan: when packets lack presentation timestamps (AVI with B-frames, raw
//   elementary streams) or repeat them, the frames are numbered by a full decode, and a
//   reader reaches frame n by decoding from the start of the stream. Correct, slow, rare.
//
// Seek points: frame n decodes correctly when decoding starts at a keyframe K that comes at or
// before n's packet in decode order and whose pts is <= n's pts. The latter condition handles
// open GOPs: the leading B-frames of a keyframe (decoded after it, shown before it) may refer
// to the previous GOP, so they belong to the previous keyframe's range. Discarded keyframes
// count: after an edit list the first shown frames usually depend on a cut-away keyframe.
// No such keyframe: decode from the start of the stream (seek point -1).
//
// Thread-safety: immutable once built; share it freely (std::shared_ptr<const MovieIndex>).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

extern "C" {
#include <libavutil/rational.h>
}

namespace framewire {

// Identifies one version of a file: a replaced or rewritten file gets a new signature.
struct FileSignature {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool operator==(const FileSignature& other) const {
    return size == other.size && mtime_ns == other.mtime_ns && inode == other.inode;
  }
  bool operator!=(const FileSignature& other) const { return !(*this == other); }
};
Result<FileSignature> fileSignature(const std::string& path);

enum class IndexSource { kContainerIndex, kPacketScan, kDecodeScan };
const char* indexSourceName(IndexSource source);

struct IndexedPacket {
  int64_t pts = 0;         // AV_NOPTS_VALUE when unknown
  int64_t dts = 0;         // AV_NOPTS_VALUE when unknown
  int64_t pos = -1;        // byte position in the file, -1 when unknown
  int64_t frame = -1;      // presentation index of its frame, -1 when it is not one
  bool keyframe = false;
  bool discard = false;
};

struct IndexedFrame {
  int64_t pts = 0;          // the frame's timestamp (frame->pts, else best effort), stream time base
  int64_t packet = -1;      // decode position of its packet (-1 with kDecodeScan)
  int64_t seek_packet = -1; // decode position to start decoding at; -1: from the stream's start
  bool keyframe = false;
};

struct MovieMetadata {
  std::string container;     // demuxer name ("mov,mp4,m4a,3gp,3g2,mj2")
  std::string codec;         // "prores", "h264"
  std::string pixel_format;  // native pixel format name, "yuv422p10le"
  int width = 0;
  int height = 0;
  int bit_depth = 0;
  double fps = 0;            // average frame rate
  double duration = 0;       // seconds from the first frame's start to the last frame's end
  double start_time = 0;     // seconds: the first frame's pts
  AVRational time_base{1, 1};
  uint64_t file_size = 0;
  int64_t keyframes = 0;
};

class MovieIndex {
 public:
  // Opens and indexes the movie at `path` (an already confined, canonical path).
  // Not a movie, no video stream, nothing decodable: DECODE_ERROR.
  static Result<std::shared_ptr<const MovieIndex>> build(const std::string& path,
                                                         const FileSignature& signature);

  const std::string& path() const { return path_; }
  const FileSignature& signature() const { return signature_; }
  const MovieMetadata& metadata() const { return metadata_; }
  IndexSource source() const { return source_; }
  int stream_index() const { return stream_index_; }

  int64_t numFrames() const { return static_cast<int64_t>(frames_.size()); }
  const IndexedFrame& frame(int64_t n) const { return frames_[static_cast<size_t>(n)]; }
  int64_t numPackets() const { return static_cast<int64_t>(packets_.size()); }
  const IndexedPacket& packet(int64_t d) const { return packets_[static_cast<size_t>(d)]; }

  // True when readers may seek (frames are identified by pts); false for kDecodeScan,
  // where frames are identified by their ordinal in a decode from the start.
  bool seekable() const { return source_ != IndexSource::kDecodeScan; }

  // The frame whose pts is `pts`, or -1.
  int64_t frameWithPts(int64_t pts) const;
  // The decode position of a packet just read from the demuxer (by byte position when those
  // are unique, else by pts), or -1 when the packet is not known.
  int64_t packetPosition(int64_t pos, int64_t pts) const;
  // The keyframe packet before decode position `d` (exclusive), or -1.
  int64_t previousKeyframePacket(int64_t d) const;

  // Seconds of `pts` from the first frame: (pts - first frame's pts) * time_base.
  double secondsFromStart(int64_t pts) const;
  // The frame displayed at `seconds` from the first frame (the last frame whose time is <=
  // seconds), or -1 when `seconds` is before the first frame or after the movie's end.
  int64_t frameAtTime(double seconds) const;

 private:
  MovieIndex() = default;
  Status finish();  // sorts frames, links packets, computes seek points and lookups

  std::string path_;
  FileSignature signature_;
  MovieMetadata metadata_;
  IndexSource source_ = IndexSource::kPacketScan;
  int stream_index_ = -1;
  std::vector<IndexedPacket> packets_;  // decode order
  std::vector<IndexedFrame> frames_;    // presentation order
  std::vector<std::pair<int64_t, int64_t>> packet_by_pos_;  // (pos, decode position), sorted
  std::vector<int64_t> keyframe_packets_;                   // decode positions, ascending
  int64_t last_frame_duration_ = 0;

  friend class MovieIndexBuilder;
};

}  // namespace framewire
