#include "worker/index/movie_index.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "worker/source/byte_source.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/index/mov_sample_table.h"
#include "worker/decode/movie_input.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framewire {

Result<FileSignature> fileSignature(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return Status::notFound("movie file disappeared: " + path);
    return Status::decodeError("cannot stat movie: " + std::string(std::strerror(errno)));
  }
  FileSignature signature;
  signature.size = static_cast<uint64_t>(info.st_size);
  signature.mtime_ns = int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  signature.inode = static_cast<uint64_t>(info.st_ino);
  return signature;
}

const char* indexSourceName(IndexSource source) {
  switch (source) {
    case IndexSource::kContainerIndex: return "container-index";
    case IndexSource::kPacketScan: return "packet-scan";
    case IndexSource::kDecodeScan: return "decode-scan";
  }
  return "unknown";
}

// Builds MovieIndex objects; a friend so MovieIndex stays immutable for everyone else.
class MovieIndexBuilder {
 public:
  static Result<std::shared_ptr<const MovieIndex>> build(const std::string& path,
                                                         const FileSignature& signature,
                                                         const IndexBuildOptions& options);

 private:
  static void fillMetadata(const MovieInput& input, const FileSignature& signature,
                           MovieIndex* index);
  static bool tryContainerIndex(MovieInput& input, MovieIndex* index, bool* moved_demuxer);
  static Status scanPackets(MovieInput& input, MovieIndex* index);
  static Status decodeScan(const std::string& path, MovieIndex* index);
};

void MovieIndexBuilder::fillMetadata(const MovieInput& input, const FileSignature& signature,
                                     MovieIndex* index) {
  const AVStream* stream = input.stream;
  const AVCodecParameters* par = stream->codecpar;
  MovieMetadata& meta = index->metadata_;
  meta.container = input.format->iformat->name;
  meta.codec = avcodec_get_name(par->codec_id);
  const auto format = static_cast<AVPixelFormat>(par->format);
  const char* format_name = av_get_pix_fmt_name(format);
  meta.pixel_format = format_name ? format_name : "unknown";
  if (const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format)) {
    meta.bit_depth = desc->comp[0].depth;
  }
  meta.width = par->width;
  meta.height = par->height;
  meta.time_base = stream->time_base;
  meta.file_size = signature.size;
  AVRational rate = stream->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
  meta.fps = (rate.num > 0 && rate.den > 0) ? av_q2d(rate) : 0.0;
  index->stream_index_ = input.stream_index;
}

namespace {

// Packets the demuxer returns first, compared with the table built from the container: a
// few (enough to cover a run of B-frames), but no more than about a MiB of them (ProRes
// frames are a MiB each; opening a movie should cost its moov, not its first frames).
constexpr int kPacketsToCompare = 8;
constexpr uint64_t kBytesToCompare = uint64_t(512) << 10;

// Codecs whose packets the mov demuxer hands out exactly as the sample tables list them (no
// parser splitting or merging them, flags from the tables): the container index describes
// them. Intra-only codecs qualify too (checked separately).
bool containerIndexable(AVCodecID codec) {
  return codec == AV_CODEC_ID_H264 || codec == AV_CODEC_ID_HEVC || codec == AV_CODEC_ID_MPEG4;
}

// The video stream's index entries as packets (decode timestamps only), with their sizes.
// False when an entry lies outside the file (a truncated movie: let a scan see what is there).
// `pos_offset` turns an entry's position into its packet's (AVI entries point at the chunk
// header, 8 bytes before the data the packet reports).
bool packetsFromEntries(AVStream* stream, uint64_t file_size, bool intra_only, int64_t pos_offset,
                        std::vector<IndexedPacket>* packets, std::vector<uint32_t>* sizes) {
  const int count = avformat_index_get_entries_count(stream);
  if (count <= 0) return false;
  packets->reserve(static_cast<size_t>(count));
  sizes->reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream, i);
    if (!entry) return false;
    if (entry->size == 0) continue;  // never sent to the decoder, as by the ffmpeg command line
    const int64_t pos = entry->pos + pos_offset;
    if (pos < 0 || uint64_t(pos) + uint64_t(entry->size) > file_size) return false;
    IndexedPacket packet;
    packet.pts = entry->timestamp;
    packet.dts = entry->timestamp;
    packet.pos = pos;
    packet.keyframe = intra_only || (entry->flags & AVINDEX_KEYFRAME);
    packet.discard = (entry->flags & AVINDEX_DISCARD_FRAME) != 0;
    packets->push_back(packet);
    sizes->push_back(static_cast<uint32_t>(entry->size));
  }
  return !packets->empty();
}

// Presentation timestamps as the demuxer computes them (mov_read_packet): dts + dts_shift +
// the composition offset of the packet's sample. Entries are matched to samples by position,
// which also checks that our reading of the tables lists the samples FFmpeg's does.
bool applyCompositionOffsets(const MovTrackSamples& track, const std::vector<uint32_t>& sizes,
                             std::vector<IndexedPacket>* packets) {
  const bool has_offsets = !track.composition_offsets.empty();
  if (has_offsets && track.composition_offsets.size() < track.offsets.size()) return false;  // partial ctts: rare
  std::vector<std::pair<uint64_t, uint32_t>> by_offset;
  by_offset.reserve(track.offsets.size());
  bool sorted = true;
  for (size_t i = 0; i < track.offsets.size(); ++i) {
    if (track.sizes[i] == 0) continue;
    if (!by_offset.empty() && track.offsets[i] <= by_offset.back().first) sorted = false;
    by_offset.emplace_back(track.offsets[i], static_cast<uint32_t>(i));
  }
  if (!sorted) std::sort(by_offset.begin(), by_offset.end());
  for (size_t i = 0; i < packets->size(); ++i) {
    IndexedPacket& packet = (*packets)[i];
    auto it = std::lower_bound(by_offset.begin(), by_offset.end(), std::make_pair(uint64_t(packet.pos), uint32_t(0)));
    if (it == by_offset.end() || it->first != uint64_t(packet.pos)) return false;
    if (track.sizes[it->second] != sizes[i]) return false;
    if (has_offsets) packet.pts = packet.dts + track.dts_shift + track.composition_offsets[it->second];
  }
  return true;
}

}  // namespace

// MOV/MP4: FFmpeg's index entries give each packet's position, size, decode timestamp and
// flags (edit lists applied); our own reading of the sample tables adds the composition
// offsets. See the header for when this is trusted; every check failing means "scan
// instead", never an error.
bool MovieIndexBuilder::tryContainerIndex(MovieInput& input, MovieIndex* index, bool* moved_demuxer) {
  *moved_demuxer = false;
  AVStream* stream = input.stream;
  const AVCodecID codec = stream->codecpar->codec_id;
  const bool intra_only = isIntraOnly(codec);
  const bool mov = std::strstr(input.format->iformat->name, "mov") != nullptr;
  // AVI's idx1 index lists every chunk, but only frames shown in decode order can do
  // without a scan: intra-only codecs (MJPEG).
  const bool avi = std::strcmp(input.format->iformat->name, "avi") == 0;
  if (!(mov && (intra_only || containerIndexable(codec))) && !(avi && intra_only)) return false;

  std::vector<IndexedPacket> packets;
  std::vector<uint32_t> sizes;
  const int64_t pos_offset = avi ? 8 : 0;
  if (!packetsFromEntries(stream, index->metadata_.file_size, intra_only, pos_offset, &packets, &sizes)) {
    return false;
  }

  // The sample tables: composition offsets, and whether the file is fragmented.
  bool tables_read = false;
  bool fragmented = true;
  if (!mov) {
    // No sample tables to read.
  } else if (auto source = openByteSource(index->path_, index->bytes_); source.ok()) {
    Result<MovFileLayout> layout = readMovLayout(**source);
    if (layout.ok()) {
      Result<MovTrackSamples> track = readMovTrackSamples(**source, &*layout, static_cast<uint32_t>(stream->id));
      fragmented = layout->fragmented;
      if (track.ok() && !fragmented) {
        if (!applyCompositionOffsets(*track, sizes, &packets)) return false;
        tables_read = true;
      }
    }
  }
  // Without the tables only intra-only codecs qualify (their frames are shown in decode order),
  // and only when the entries are complete, which the last packet checks below.
  if (!tables_read && !intra_only) return false;

  UniqueAVPacket packet = allocatePacket();
  if (!packet) return false;
  *moved_demuxer = true;
  auto readOwnPacket = [&]() -> int {
    for (;;) {
      av_packet_unref(packet.get());
      const int error = av_read_frame(input.format.get(), packet.get());
      if (error < 0) return error;
      if (packet->stream_index == input.stream_index && packet->size > 0) return 0;
    }
  };
  // The demuxer must agree with the table, packet for packet, on the first few (which the
  // stream probing has mostly read already).
  const size_t compare = std::min<size_t>(kPacketsToCompare, packets.size());
  uint64_t compared_bytes = 0;
  for (size_t i = 0; i < compare && (i == 0 || compared_bytes < kBytesToCompare); ++i) {
    compared_bytes += sizes[i];
    const IndexedPacket& expected = packets[i];
    if (readOwnPacket() < 0) return false;
    if (packet->pos != expected.pos || packet->pts != expected.pts || packet->dts != expected.dts ||
        packet->size != int(sizes[i]) || bool(packet->flags & AV_PKT_FLAG_DISCARD) != expected.discard ||
        (!intra_only && bool(packet->flags & AV_PKT_FLAG_KEY) != expected.keyframe)) {
      return false;
    }
  }
  if (!tables_read || fragmented) {
    // The last entry must be the last packet the demuxer returns, complete: this catches
    // samples the demuxer had not indexed at open (fragments) and movies cut short.
    const IndexedPacket& last = packets.back();
    if (av_seek_frame(input.format.get(), input.stream_index, last.dts, AVSEEK_FLAG_BACKWARD) < 0) return false;
    // The seek lands on the last entry itself (every entry is a keyframe); a few packets of
    // leeway, then give up rather than read far.
    constexpr int kMaxPacketsToLastEntry = 16;
    for (int read = 0;; ++read) {
      if (read == kMaxPacketsToLastEntry || readOwnPacket() < 0) return false;
      if (packet->pos == last.pos) break;
      if (packet->pos > last.pos) return false;
    }
    if (packet->size != int(sizes.back()) || packet->pts != last.pts || (packet->flags & AV_PKT_FLAG_CORRUPT)) {
      return false;
    }
    if (readOwnPacket() != AVERROR_EOF) return false;
  }

  index->packets_ = std::move(packets);
  index->source_ = IndexSource::kContainerIndex;
  return true;
}

Status MovieIndexBuilder::scanPackets(MovieInput& input, MovieIndex* index) {
  UniqueAVPacket packet = allocatePacket();
  if (!packet) return Status::internal("out of memory allocating a packet");
  const bool intra_only = isIntraOnly(input.stream->codecpar->codec_id);
  std::vector<IndexedPacket>& packets = index->packets_;
  packets.clear();
  int read_error = 0;
  for (;;) {
    const int error = av_read_frame(input.format.get(), packet.get());
    if (error < 0) {
      // The ffmpeg command line also treats a read error as the end of the input.
      if (error != AVERROR_EOF) read_error = error;
      break;
    }
    if (packet->stream_index == input.stream_index && packet->size > 0) {
      IndexedPacket entry;
      entry.pts = packet->pts;
      entry.dts = packet->dts;
      entry.pos = packet->pos;
      entry.keyframe = intra_only || (packet->flags & AV_PKT_FLAG_KEY);
      entry.discard = (packet->flags & AV_PKT_FLAG_DISCARD) != 0;
      packets.push_back(entry);
    }
    av_packet_unref(packet.get());
  }
  // A remote read that failed is not the end of the movie: no index from part of it.
  FW_RETURN_IF_ERROR(input.ioError());
  if (packets.empty()) {
    return Status::decodeError(read_error ? "no video packets could be read: " + avErrorString(read_error)
                                          : std::string("the video stream has no packets"));
  }
  index->source_ = IndexSource::kPacketScan;
  return Status::ok();
}

Status MovieIndexBuilder::decodeScan(const std::string& path, MovieIndex* index) {
  FW_ASSIGN_OR_RETURN(MovieInput input, openMovieInput(path, index->bytes_));
  FW_ASSIGN_OR_RETURN(UniqueAVCodecContext decoder, openVideoDecoder(input.stream, 0));
  UniqueAVPacket packet = allocatePacket();
  UniqueAVFrame frame = allocateFrame();
  if (!packet || !frame) return Status::internal("out of memory");
  std::vector<IndexedFrame> frames;
  auto drain = [&]() {
    while (avcodec_receive_frame(decoder.get(), frame.get()) == 0) {
      IndexedFrame entry;
      entry.pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
      if (entry.pts == AV_NOPTS_VALUE) entry.pts = frames.empty() ? 0 : frames.back().pts + 1;
      entry.keyframe = frame->key_frame != 0;
      frames.push_back(entry);
      av_frame_unref(frame.get());
    }
  };
  for (;;) {
    const int error = av_read_frame(input.format.get(), packet.get());
    if (error < 0) break;
    if (packet->stream_index == input.stream_index && packet->size > 0) {
      // Decode errors are skipped, as the ffmpeg command line does.
      while (avcodec_send_packet(decoder.get(), packet.get()) == AVERROR(EAGAIN)) drain();
      drain();
    }
    av_packet_unref(packet.get());
  }
  // A remote read that failed is not the end of the movie: no index from part of it.
  FW_RETURN_IF_ERROR(input.ioError());
  avcodec_send_packet(decoder.get(), nullptr);
  drain();
  if (frames.empty()) return Status::decodeError("no frame of the movie could be decoded");
  for (auto& packet_entry : index->packets_) packet_entry.frame = -1;
  index->frames_ = std::move(frames);
  index->source_ = IndexSource::kDecodeScan;
  return Status::ok();
}

Result<std::shared_ptr<const MovieIndex>> MovieIndexBuilder::build(const std::string& path,
                                                                   const FileSignature& signature,
                                                                   const IndexBuildOptions& options) {
  std::shared_ptr<MovieIndex> index(new MovieIndex());
  index->path_ = path;
  index->signature_ = signature;
  index->bytes_ = options.bytes;
  {
    FW_ASSIGN_OR_RETURN(MovieInput input, openMovieInput(path, index->bytes_));
    if (!avcodec_find_decoder(input.stream->codecpar->codec_id)) {
      return Status::decodeError(std::string("no decoder for codec ") +
                                 avcodec_get_name(input.stream->codecpar->codec_id));
    }
    fillMetadata(input, signature, index.get());
    bool moved_demuxer = false;
    if (!options.container_index || !tryContainerIndex(input, index.get(), &moved_demuxer)) {
      // A read failure (a remote server down) is not a reason to scan the whole file.
      FW_RETURN_IF_ERROR(input.ioError());
      // The failed attempt may have read and seeked: scan from a freshly opened demuxer.
      if (moved_demuxer) {
        FW_ASSIGN_OR_RETURN(MovieInput fresh, openMovieInput(path, index->bytes_));
        input = std::move(fresh);
      }
      FW_RETURN_IF_ERROR(scanPackets(input, index.get()));
    }
  }
  FW_RETURN_IF_ERROR(index->finish());
  if (index->source_ == IndexSource::kDecodeScan) {
    FW_RETURN_IF_ERROR(decodeScan(path, index.get()));
    FW_RETURN_IF_ERROR(index->finish());
  }
  return std::shared_ptr<const MovieIndex>(std::move(index));
}

Result<std::shared_ptr<const MovieIndex>> MovieIndex::build(const std::string& path,
                                                            const FileSignature& signature,
                                                            const IndexBuildOptions& options) {
  return MovieIndexBuilder::build(path, signature, options);
}

// Builds the frame table from the packet table (or, for kDecodeScan, completes the frame
// table made by decoding). A packet table whose frames lack timestamps or repeat them
// switches the source to kDecodeScan and returns OK: build() then numbers frames by decoding.
Status MovieIndex::finish() {
  if (source_ != IndexSource::kDecodeScan) {
    frames_.clear();
    for (size_t d = 0; d < packets_.size(); ++d) {
      IndexedPacket& packet = packets_[d];
      packet.frame = -1;
      if (packet.discard) continue;
      if (packet.pts == AV_NOPTS_VALUE) {
        source_ = IndexSource::kDecodeScan;
        return Status::ok();
      }
      IndexedFrame frame;
      frame.pts = packet.pts;
      frame.packet = static_cast<int64_t>(d);
      frame.keyframe = packet.keyframe;
      frames_.push_back(frame);
    }
    if (frames_.empty()) return Status::decodeError("the video stream has no frames to show");
    std::stable_sort(frames_.begin(), frames_.end(),
                     [](const IndexedFrame& a, const IndexedFrame& b) { return a.pts < b.pts; });
    for (size_t n = 1; n < frames_.size(); ++n) {
      if (frames_[n].pts == frames_[n - 1].pts) {
        source_ = IndexSource::kDecodeScan;
        return Status::ok();
      }
    }
    for (size_t n = 0; n < frames_.size(); ++n) {
      packets_[static_cast<size_t>(frames_[n].packet)].frame = static_cast<int64_t>(n);
    }

    keyframe_packets_.clear();
    for (size_t d = 0; d < packets_.size(); ++d) {
      if (packets_[d].keyframe) keyframe_packets_.push_back(static_cast<int64_t>(d));
    }
    // Seek points (see the header). The backward walk is short in real movies (one step, two
    // for open GOPs); it is bounded so a pathological stream costs a decode from the start
    // instead of quadratic time.
    constexpr int kMaxKeyframeWalk = 16;
    for (IndexedFrame& frame : frames_) {
      frame.seek_packet = -1;
      auto it = std::upper_bound(keyframe_packets_.begin(), keyframe_packets_.end(), frame.packet);
      for (int steps = 0; it != keyframe_packets_.begin() && steps < kMaxKeyframeWalk; ++steps) {
        --it;
        const IndexedPacket& key = packets_[static_cast<size_t>(*it)];
        const int64_t key_time = key.pts != AV_NOPTS_VALUE ? key.pts : key.dts;
        if (key_time != AV_NOPTS_VALUE && key_time <= frame.pts) {
          frame.seek_packet = *it;
          break;
        }
      }
    }

    packet_by_pos_.clear();
    packet_by_pos_.reserve(packets_.size());
    for (size_t d = 0; d < packets_.size(); ++d) {
      if (packets_[d].pos < 0) {
        packet_by_pos_.clear();
        break;
      }
      packet_by_pos_.emplace_back(packets_[d].pos, static_cast<int64_t>(d));
    }
    std::sort(packet_by_pos_.begin(), packet_by_pos_.end());
    for (size_t i = 1; i < packet_by_pos_.size(); ++i) {
      if (packet_by_pos_[i].first == packet_by_pos_[i - 1].first) {
        packet_by_pos_.clear();  // positions do not identify packets here: use pts
        break;
      }
    }
  }

  metadata_.keyframes = std::count_if(frames_.begin(), frames_.end(),
                                      [](const IndexedFrame& f) { return f.keyframe; });
  const double tb = av_q2d(metadata_.time_base);
  int64_t first = frames_.front().pts;
  int64_t last = frames_.back().pts;
  for (const auto& frame : frames_) {
    first = std::min(first, frame.pts);
    last = std::max(last, frame.pts);
  }
  const double span = double(last - first) * tb;
  if (metadata_.fps <= 0 && frames_.size() > 1 && span > 0) {
    metadata_.fps = double(frames_.size() - 1) / span;
  }
  metadata_.start_time = double(frames_.front().pts) * tb;
  metadata_.duration = span + (metadata_.fps > 0 ? 1.0 / metadata_.fps : 0.0);
  return Status::ok();
}

int64_t MovieIndex::frameWithPts(int64_t pts) const {
  if (!seekable()) return -1;
  auto it = std::lower_bound(frames_.begin(), frames_.end(), pts,
                             [](const IndexedFrame& f, int64_t value) { return f.pts < value; });
  if (it == frames_.end() || it->pts != pts) return -1;
  return static_cast<int64_t>(it - frames_.begin());
}

int64_t MovieIndex::packetPosition(int64_t pos, int64_t pts) const {
  if (!packet_by_pos_.empty()) {
    if (pos < 0) return -1;
    auto it = std::lower_bound(packet_by_pos_.begin(), packet_by_pos_.end(),
                               std::make_pair(pos, int64_t(-1)));
    if (it == packet_by_pos_.end() || it->first != pos) return -1;
    return it->second;
  }
  if (pts == AV_NOPTS_VALUE) return -1;
  const int64_t n = frameWithPts(pts);
  return n < 0 ? -1 : frames_[static_cast<size_t>(n)].packet;
}

int64_t MovieIndex::previousKeyframePacket(int64_t d) const {
  auto it = std::lower_bound(keyframe_packets_.begin(), keyframe_packets_.end(), d);
  if (it == keyframe_packets_.begin()) return -1;
  return *(it - 1);
}

double MovieIndex::secondsFromStart(int64_t pts) const {
  return double(pts - frames_.front().pts) * av_q2d(metadata_.time_base);
}

int64_t MovieIndex::frameAtTime(double seconds) const {
  if (!(seconds >= 0) || seconds >= metadata_.duration) return -1;
  const double tb = av_q2d(metadata_.time_base);
  if (tb <= 0) return -1;
  // A millionth of a tick absorbs the rounding of seconds that name a frame's exact time.
  const double target = double(frames_.front().pts) + seconds / tb + 1e-6;
  if (!seekable()) {
    int64_t found = -1;
    for (size_t n = 0; n < frames_.size(); ++n) {
      if (double(frames_[n].pts) <= target) found = static_cast<int64_t>(n);
    }
    return found;
  }
  auto it = std::upper_bound(frames_.begin(), frames_.end(), target,
                             [](double value, const IndexedFrame& f) { return value < double(f.pts); });
  if (it == frames_.begin()) return -1;
  return static_cast<int64_t>(it - frames_.begin()) - 1;
}

}  // namespace framewire
