#include "worker/decode/movie_reader.h"

#include <algorithm>

namespace framewire {
namespace {

// Attempts per frame: the seek point, one and two keyframes earlier, the stream start.
constexpr int kMaxAttempts = 4;
// What a seek is worth in decoded packets when comparing readers.
constexpr int64_t kSeekCost = 4;
// How far (in packets) a pass of an inter codec may run on before reaching the target's seek
// point rather than seeking: the frames in flight are not thrown away, and a seek plus the
// refill of the frame-thread pipeline costs about that much.
constexpr int kInterContinueSlack = 3;
// Receive errors in a row after which a decoder is considered stuck.
constexpr int kMaxConsecutiveErrors = 64;

int64_t frameTimestamp(const AVFrame* frame) {
  return frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
}

}  // namespace

MovieReader::MovieReader(std::shared_ptr<const MovieIndex> index, int threads)
    : index_(std::move(index)), threads_(threads) {}

MovieReader::~MovieReader() = default;

Result<std::unique_ptr<MovieReader>> MovieReader::open(std::shared_ptr<const MovieIndex> index,
                                                       int threads) {
  std::unique_ptr<MovieReader> reader(new MovieReader(std::move(index), threads));
  FW_ASSIGN_OR_RETURN(reader->input_, openMovieInput(reader->index_->path(), reader->index_->bytes()));
  if (reader->input_.stream_index != reader->index_->stream_index()) {
    return Status::decodeError("the movie changed while it was being opened");
  }
  FW_ASSIGN_OR_RETURN(reader->decoder_, openVideoDecoder(reader->input_.stream, threads));
  reader->packet_ = allocatePacket();
  reader->frame_ = allocateFrame();
  if (!reader->packet_ || !reader->frame_) return Status::internal("out of memory");
  const AVCodecID codec = reader->input_.stream->codecpar->codec_id;
  reader->continue_slack_ = isIntraOnly(codec) ? 0 : kInterContinueSlack;
  reader->seek_by_pts_ = seeksByPresentationTime(reader->input_.format->iformat);
  reader->skip_nonref_ = canSkipNonReferenceFrames(codec);
  // A freshly opened demuxer stands at the stream's start: a pass from there is valid.
  reader->positioned_ = true;
  reader->started_ = false;
  reader->start_packet_ = -1;
  reader->next_packet_ = 0;
  return reader;
}

bool MovieReader::canContinueTo(int64_t n) const {
  if (!positioned_ || n <= last_output_) return false;
  if (!index_->seekable()) return true;  // forward only, counting frames
  const int64_t seek_packet = index_->frame(n).seek_packet;
  if (start_packet_ >= 0 && (seek_packet < 0 || seek_packet < start_packet_)) {
    return false;  // n depends on packets before this pass's start
  }
  return seek_packet <= next_packet_ + continue_slack_;
}

bool MovieReader::holdsPosition() const {
  return continue_slack_ > 0 && positioned_ && started_ && last_output_ >= 0 && !end_sent_;
}

int64_t MovieReader::costToReach(int64_t n) const {
  if (!index_->seekable()) {
    return canContinueTo(n) ? n - last_output_ : n + kSeekCost;
  }
  const IndexedFrame& frame = index_->frame(n);
  if (canContinueTo(n)) return std::max<int64_t>(0, frame.packet - next_packet_ + 1);
  return kSeekCost + frame.packet - std::max<int64_t>(frame.seek_packet, 0) + 1;
}

int64_t MovieReader::startPacketFor(int64_t n, int attempt) const {
  if (!index_->seekable() || attempt >= kMaxAttempts - 1) return -1;
  int64_t start = index_->frame(n).seek_packet;
  for (int i = 0; i < attempt && start >= 0; ++i) start = index_->previousKeyframePacket(start);
  return start;
}

Status MovieReader::startAt(int64_t start_packet, StageTimings* timings) {
  StageTimer timer(&timings->read_us);
  positioned_ = false;
  avcodec_flush_buffers(decoder_.get());
  av_packet_unref(packet_.get());
  end_sent_ = false;
  last_output_ = -1;
  output_ordinal_ = 0;
  if (start_packet < 0) {
    // The stream's start: reopen, which is the one way back that works for every demuxer
    // and gives exactly the packets (and timestamps) the index was built from.
    FW_ASSIGN_OR_RETURN(MovieInput fresh, openMovieInput(index_->path(), index_->bytes()));
    if (fresh.stream_index != index_->stream_index()) {
      return Status::decodeError("the movie changed while it was being read");
    }
    input_ = std::move(fresh);
    next_packet_ = 0;
    ++counters_.restarts;
  } else {
    const int64_t timestamp = seekTimestamp(index_->packet(start_packet));
    const int error =
        av_seek_frame(input_.format.get(), input_.stream_index, timestamp, AVSEEK_FLAG_BACKWARD);
    if (error < 0) return Status::decodeError("seek failed: " + avErrorString(error));
    next_packet_ = start_packet;
    ++counters_.seeks;
  }
  start_packet_ = start_packet;
  started_ = false;
  positioned_ = true;
  return Status::ok();
}

MovieReader::Outcome MovieReader::feedPacket(Status* error, StageTimings* timings) {
  if (end_sent_) return Outcome::kMissed;  // nothing left to feed
  int64_t position = -1;
  for (;;) {
    int read_error;
    {
      StageTimer timer(&timings->read_us);
      av_packet_unref(packet_.get());
      read_error = av_read_frame(input_.format.get(), packet_.get());
    }
    // A remote read that failed is neither the end of the stream nor a missed landing, and
    // the packet FFmpeg may still return then is cut short (it keeps what it had buffered).
    if (Status io = input_.ioError(); !io.isOk()) {
      av_packet_unref(packet_.get());
      *error = std::move(io);
      return Outcome::kFailed;
    }
    if (read_error < 0) {
      if (!started_) return Outcome::kMissed;  // the seek landed nowhere useful
      // End of stream (or a read error, which the ffmpeg command line treats alike): drain.
      StageTimer timer(&timings->decode_us);
      avcodec_send_packet(decoder_.get(), nullptr);
      end_sent_ = true;
      return Outcome::kGot;
    }
    if (packet_->stream_index != input_.stream_index || packet_->size == 0) continue;
    position = index_->seekable() ? index_->packetPosition(packet_->pos, packet_->pts) : -1;
    if (!started_) {
      if (start_packet_ < 0) {
        started_ = true;
      } else if (position < 0) {
        continue;  // not a packet we know: before the start point
      } else if (position > start_packet_) {
        return Outcome::kMissed;  // the seek overshot the keyframe
      } else if (position == start_packet_) {
        started_ = true;
      } else {
        // The demuxer landed before the keyframe (an earlier keyframe, or anywhere for
        // demuxers that seek by bisection): read on without decoding. Starting at an earlier
        // keyframe would be correct too, but costs decoding a whole GOP more.
        ++counters_.skipped_reads;
        continue;
      }
    }
    if (position >= 0) next_packet_ = position + 1;
    break;
  }
  StageTimer timer(&timings->decode_us);
  ++counters_.packets;
  setSkipFor(position);
  const int send_error = avcodec_send_packet(decoder_.get(), packet_.get());
  av_packet_unref(packet_.get());
  // feedPacket runs only after avcodec_receive_frame said EAGAIN, so the decoder must take
  // the packet; EAGAIN here would be a decoder bug, and fails like any other error below.
  if (send_error < 0 && send_error != AVERROR_INVALIDDATA) {
    // Damaged packets (INVALIDDATA) are skipped as the ffmpeg command line does; anything
    // else (out of memory, a decoder in a bad state) ends this pass.
    *error = Status::decodeError("decoding failed: " + avErrorString(send_error));
    return Outcome::kFailed;
  }
  return Outcome::kGot;
}

int64_t MovieReader::seekTimestamp(const IndexedPacket& key) const {
  if (seek_by_pts_ && key.pts != AV_NOPTS_VALUE) return key.pts;
  return key.dts != AV_NOPTS_VALUE ? key.dts : key.pts;
}

void MovieReader::setSkipFor(int64_t position) {
  // A packet whose frame is shown before the target (or never) is needed only if other frames
  // refer to it; the decoder may drop it when it is not a reference. Everything else decodes.
  AVDiscard skip = AVDISCARD_DEFAULT;
  if (skip_nonref_ && position >= 0 && target_frame_ >= 0) {
    const int64_t frame = index_->packet(position).frame;
    if (frame < target_frame_) skip = AVDISCARD_NONREF;
  }
  if (skip == AVDISCARD_NONREF) ++counters_.skippable;
  decoder_->skip_frame = skip;
}

MovieReader::Outcome MovieReader::decodeUntil(int64_t n, bool accept_corrupt, UniqueAVFrame* out,
                                              Status* error, StageTimings* timings) {
  const int64_t target_pts = index_->frame(n).pts;
  target_frame_ = index_->seekable() ? n : -1;
  int consecutive_errors = 0;
  for (;;) {
    int receive_error;
    {
      StageTimer timer(&timings->decode_us);
      receive_error = avcodec_receive_frame(decoder_.get(), frame_.get());
    }
    if (receive_error == 0) {
      consecutive_errors = 0;
      int64_t position;
      if (index_->seekable()) {
        const int64_t timestamp = frameTimestamp(frame_.get());
        position = index_->frameWithPts(timestamp);
        if (position < 0) {
          av_frame_unref(frame_.get());
          if (timestamp != AV_NOPTS_VALUE && timestamp > target_pts) return Outcome::kMissed;
          continue;  // not a frame of the index (a discarded one slipping out): ignore
        }
      } else {
        position = output_ordinal_++;
      }
      last_output_ = position;
      if (position < n) {
        av_frame_unref(frame_.get());
        continue;
      }
      if (position > n) {
        av_frame_unref(frame_.get());
        return Outcome::kMissed;
      }
      const bool corrupt = (frame_->flags & AV_FRAME_FLAG_CORRUPT) || frame_->decode_error_flags;
      if (corrupt && !accept_corrupt && start_packet_ >= 0) {
        av_frame_unref(frame_.get());
        return Outcome::kMissed;
      }
      UniqueAVFrame result = allocateFrame();
      if (!result) {
        *error = Status::internal("out of memory");
        return Outcome::kFailed;
      }
      av_frame_move_ref(result.get(), frame_.get());
      *out = std::move(result);
      return Outcome::kGot;
    }
    if (receive_error == AVERROR(EAGAIN)) {
      const Outcome fed = feedPacket(error, timings);
      if (fed != Outcome::kGot) return fed;
      continue;
    }
    if (receive_error == AVERROR_EOF) return Outcome::kMissed;
    // A decode error reported on output (frame threads report them here): skip, as the
    // ffmpeg command line does, unless the decoder keeps failing.
    if (++consecutive_errors > kMaxConsecutiveErrors) {
      *error = Status::decodeError("the decoder keeps failing: " + avErrorString(receive_error));
      return Outcome::kFailed;
    }
  }
}

Result<UniqueAVFrame> MovieReader::readFrame(int64_t n, StageTimings* timings) {
  if (n < 0 || n >= index_->numFrames()) {
    return Status::outOfRange("frame " + std::to_string(n) + " is not in 0.." +
                              std::to_string(index_->numFrames() - 1));
  }
  bool continuing = canContinueTo(n);
  bool accept_corrupt = false;
  int seek_attempt = 0;
  int64_t previous_start = -2;
  for (;;) {
    if (!continuing) {
      // The next start point further back; the same point twice gains nothing.
      int64_t start;
      do {
        if (seek_attempt >= kMaxAttempts) {
          positioned_ = false;
          return Status::decodeError("frame " + std::to_string(n) + " (pts " +
                                     std::to_string(index_->frame(n).pts) +
                                     ") could not be decoded: the decoder never produced it");
        }
        start = startPacketFor(n, seek_attempt++);
      } while (start == previous_start);
      previous_start = start;
      Status status = startAt(start, timings);
      if (!status.isOk()) {
        positioned_ = false;
        if (start < 0) return status;
        continue;
      }
    }
    UniqueAVFrame frame;
    Status error;
    const Outcome outcome = decodeUntil(n, accept_corrupt, &frame, &error, timings);
    if (outcome == Outcome::kGot) {
      ++counters_.frames;
      return frame;
    }
    positioned_ = false;
    if (outcome == Outcome::kFailed) return error;
    ++counters_.retries;
    continuing = false;
    accept_corrupt = true;
  }
}

}  // namespace framewire
