#include "worker/movie_index.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "worker/ffmpeg_handles.h"
#include "worker/movie_input.h"

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
                                                         const FileSignature& signature);

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

// MOV/MP4 + intra-only codec: the sample tables are the index. See the header for when they
// are trusted; every check failing means "scan instead", never an error.
bool MovieIndexBuilder::tryContainerIndex(MovieInput& input, MovieIndex* index,
                                          bool* moved_demuxer) {
  *moved_demuxer = false;
  AVStream* stream = input.stream;
  if (!isIntraOnly(stream->codecpar->codec_id)) return false;
  if (std::strstr(input.format->iformat->name, "mov") == nullptr) return false;
  const int count = avformat_index_get_entries_count(stream);
  if (count <= 0) return false;

  std::vector<IndexedPacket> packets;
  packets.reserve(static_cast<size_t>(count));
  const AVIndexEntry* first_entry = nullptr;
  const AVIndexEntry* last_entry = nullptr;
  for (int i = 0; i < count; ++i) {
    const AVIndexEntry* entry = avformat_index_get_entry(stream, i);
    if (!entry) return false;
    if (entry->size == 0) continue;  // never sent to the decoder, as by the ffmpeg command line
    if (entry->pos < 0 || uint64_t(entry->pos) + uint64_t(entry->size) > index->metadata_.file_size) {
      return false;  // a truncated movie: let the scan see what is really there
    }
    if (!first_entry) first_entry = entry;
    last_entry = entry;
    IndexedPacket packet;
    packet.pts = entry->timestamp;  // a decode timestamp; equal to pts when checked below
    packet.dts = entry->timestamp;
    packet.pos = entry->pos;
    packet.keyframe = true;  // intra-only: every packet is a valid starting point
    packet.discard = (entry->flags & AVINDEX_DISCARD_FRAME) != 0;
    packets.push_back(packet);
  }
  if (!first_entry) return false;

  // The first packet must be the first entry with pts == dts (no composition offsets).
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
  if (readOwnPacket() < 0 || packet->pos != first_entry->pos || packet->pts != first_entry->timestamp) {
    return false;
  }
  // The last entry must be the last packet the demuxer returns, complete: this catches samples
  // the demuxer had not indexed at open (fragments) and movies cut short.
  if (av_seek_frame(input.format.get(), input.stream_index, last_entry->timestamp,
                    AVSEEK_FLAG_BACKWARD) < 0) {
    return false;
  }
  // The seek lands on the last entry itself (every entry is a keyframe); a few packets of
  // leeway, then give up rather than read far.
  constexpr int kMaxPacketsToLastEntry = 16;
  for (int read = 0;; ++read) {
    if (read == kMaxPacketsToLastEntry || readOwnPacket() < 0) return false;
    if (packet->pos == last_entry->pos) break;
    if (packet->pos > last_entry->pos) return false;
  }
  if (packet->size != last_entry->size || packet->pts != last_entry->timestamp ||
      (packet->flags & AV_PKT_FLAG_CORRUPT)) {
    return false;
  }
  const int after = readOwnPacket();
  if (after != AVERROR_EOF) return false;

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
  if (packets.empty()) {
    return Status::decodeError(read_error ? "no video packets could be read: " + avErrorString(read_error)
                                          : std::string("the video stream has no packets"));
  }
  index->source_ = IndexSource::kPacketScan;
  return Status::ok();
}

Status MovieIndexBuilder::decodeScan(const std::string& path, MovieIndex* index) {
  FW_ASSIGN_OR_RETURN(MovieInput input, openMovieInput(path));
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
  avcodec_send_packet(decoder.get(), nullptr);
  drain();
  if (frames.empty()) return Status::decodeError("no frame of the movie could be decoded");
  for (auto& packet_entry : index->packets_) packet_entry.frame = -1;
  index->frames_ = std::move(frames);
  index->source_ = IndexSource::kDecodeScan;
  return Status::ok();
}

Result<std::shared_ptr<const MovieIndex>> MovieIndexBuilder::build(const std::string& path,
                                                                   const FileSignature& signature) {
  std::shared_ptr<MovieIndex> index(new MovieIndex());
  index->path_ = path;
  index->signature_ = signature;
  {
    FW_ASSIGN_OR_RETURN(MovieInput input, openMovieInput(path));
    if (!avcodec_find_decoder(input.stream->codecpar->codec_id)) {
      return Status::decodeError(std::string("no decoder for codec ") +
                                 avcodec_get_name(input.stream->codecpar->codec_id));
    }
    fillMetadata(input, signature, index.get());
    bool moved_demuxer = false;
    if (!tryContainerIndex(input, index.get(), &moved_demuxer)) {
      // The failed attempt may have read and seeked: scan from a freshly opened demuxer.
      if (moved_demuxer) {
        FW_ASSIGN_OR_RETURN(MovieInput fresh, openMovieInput(path));
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
                                                            const FileSignature& signature) {
  return MovieIndexBuilder::build(path, signature);
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
