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
// - kContainerIndex: the container's own index, so opening a 14 GB movie reads its moov, not
//   14 GB. MOV/MP4 with an intra-only codec or H.264, HEVC, MPEG-4 part 2: packets from the
//   stream's index entries (position, size, decode timestamp, keyframe and discard flags, edit
//   lists applied: the demuxer builds them from the moov's sample tables at open), and
//   presentation timestamps = dts + the composition offsets, which FFmpeg keeps to itself and
//   worker/index/mov_sample_table.h reads from the moov (entries are matched to samples by position,
//   which also checks that both readings list the same samples). AVI with an intra-only codec
//   (MJPEG): its idx1 entries (shown in decode order, so pts = dts). Trusted only after cheap
//   checks: every entry lies inside the file (not truncated), the first packets the demuxer
//   returns equal the table's (position, size, timestamps, flags; at most ~512 KiB of them),
//   and, where the sample tables could not say the file is complete (fragmented MP4, AVI), the
//   last entry is the last packet, complete. Otherwise the next source is used.
// - kPacketScan: one pass of av_read_frame over the video stream, without decoding: MPEG-TS,
//   Matroska/WebM, fragmented MP4 with B-frames, elementary streams.
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
#include "worker/source/byte_source.h"

extern "C" {
#include <libavutil/rational.h>
}

namespace framewire {

// Identifies one version of a file: a replaced or rewritten file gets a new signature.
// Remote files (worker/source/movie_source.h remoteSignature()): size, Last-Modified as mtime, inode
// 0, and the server's validators (ETag) in `version`, an opaque text compared exactly; local
// files leave `version` empty.
struct FileSignature {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  std::string version;
  bool operator==(const FileSignature& other) const {
    return size == other.size && mtime_ns == other.mtime_ns && inode == other.inode &&
           version == other.version;
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

struct IndexBuildOptions {
  bool container_index = true;  // false: never trust the container's index (tests compare both)
  // Read the movie through this (a remote movie) instead of opening `path`; the index keeps
  // it (bytes()) so readers of the movie read through it too.
  std::shared_ptr<ByteSource> bytes;
};

class MovieIndex {
 public:
  // Opens and indexes the movie at `path` (an already confined, canonical path).
  // Not a movie, no video stream, nothing decodable: DECODE_ERROR.
  static Result<std::shared_ptr<const MovieIndex>> build(const std::string& path,
                                                         const FileSignature& signature,
                                                         const IndexBuildOptions& options = {});

  const std::string& path() const { return path_; }
  const FileSignature& signature() const { return signature_; }
  // What the movie's bytes are read through: null for a local file FFmpeg opens by path().
  const std::shared_ptr<ByteSource>& bytes() const { return bytes_; }
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
  std::shared_ptr<ByteSource> bytes_;  // IndexBuildOptions::bytes
  MovieMetadata metadata_;
  IndexSource source_ = IndexSource::kPacketScan;
  int stream_index_ = -1;
  std::vector<IndexedPacket> packets_;  // decode order
  std::vector<IndexedFrame> frames_;    // presentation order
  std::vector<std::pair<int64_t, int64_t>> packet_by_pos_;  // (pos, decode position), sorted
  std::vector<int64_t> keyframe_packets_;                   // decode positions, ascending
  int64_t last_frame_duration_ = 0;

  friend class MovieIndexBuilder;
  friend class MovieIndexCodec;
};

}  // namespace framewire
