// MovieReader: an open demuxer + decoder for one movie that returns frame n, exactly.
//
// Seek strategy (the "why" is in movie_index.h):
// 1. If the decoder is already positioned so that frame n will come out of the current pass
//    (n is ahead of the last frame returned, n's seek point lies inside the pass, and the pass
//    has fed n's seek point already or is at most a few packets short of it), keep decoding.
//    Sequential requests and sorted batches therefore cost one forward pass per GOP.
// 2. Otherwise flush the decoder and seek the demuxer to n's seek point (a keyframe packet
//    from the index), addressed by its pts for demuxers whose seek takes presentation
//    timestamps (mov/mp4, matroska) and by its dts otherwise, with AVSEEK_FLAG_BACKWARD.
//    Packets the demuxer returns before that keyframe are read but not decoded (a demuxer
//    landing early costs reading, never decoding a GOP more); landing after it counts as a miss.
//    While decoding towards n, packets of frames shown before n are sent with skip_frame =
//    AVDISCARD_NONREF where the codec implements that exactly (H.264, MPEG-1/2): the decoder
//    drops the ones no other frame refers to (about half the B-frames), which are never
//    output anyway. Frames from n on are always decoded in full.
// 3. Decode forward and check the landing: each output frame is identified by its pts in the
//    index. Frame n's pts is the answer. A frame after n, the end of the stream, or a seek that
//    overshot means the decoder needed more preroll than the index promised: retry from one
//    keyframe earlier, then two, then from the very start of the stream. A frame the decoder
//    flags as corrupt is also retried once from an earlier keyframe (it may have missed a
//    reference); a frame that is still corrupt then is the file's own damage and is returned,
//    as `ffmpeg` would. Never a wrong frame: when nothing lands on n, DECODE_ERROR.
// For kDecodeScan indexes (no usable pts) frames are identified by their ordinal in a decode
// from the start, and every backward step reopens the movie.
//
// Thread-safety: none; one thread at a time (DecoderPool hands readers out exclusively).
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/index/movie_index.h"
#include "worker/decode/movie_input.h"
#include "worker/stage_timings.h"

namespace framewire {

// What a reader has done since it was opened: for tests, and later for STATS.
struct ReaderCounters {
  int64_t frames = 0;    // frames returned
  int64_t packets = 0;   // packets sent to the decoder
  int64_t seeks = 0;     // demuxer seeks to a keyframe
  int64_t restarts = 0;  // reopenings to decode from the stream's start
  int64_t retries = 0;   // landings missed, decoded again from further back
  int64_t skipped_reads = 0;  // packets read after a seek but before its keyframe: not decoded
  int64_t skippable = 0;      // packets sent with leave to skip them if they are not references
};

class MovieReader {
 public:
  // Opens the movie the index describes. `threads`: decoder threads, 0 = FFmpeg's choice.
  static Result<std::unique_ptr<MovieReader>> open(std::shared_ptr<const MovieIndex> index,
                                                   int threads);
  ~MovieReader();
  MovieReader(const MovieReader&) = delete;
  MovieReader& operator=(const MovieReader&) = delete;

  // Frame n (0 <= n < numFrames) as the decoder produced it: a new reference to its buffers,
  // which stay valid after further reads. Read and decode time go to `timings`.
  Result<UniqueAVFrame> readFrame(int64_t n, StageTimings* timings);

  // Roughly how many packets must be decoded to reach frame n from the current state (a seek
  // counts as a few); used to pick the best placed of several idle readers.
  int64_t costToReach(int64_t n) const;

  // True when frame n comes out of the current pass without a seek.
  bool canContinueTo(int64_t n) const;
  // True when this reader stands inside a pass of an inter-coded movie: a forward reader's
  // next frames are cheap here, and sending it elsewhere throws that away.
  bool holdsPosition() const;

  const std::shared_ptr<const MovieIndex>& index() const { return index_; }
  const ReaderCounters& counters() const { return counters_; }

 private:
  enum class Outcome { kGot, kMissed, kFailed };

  MovieReader(std::shared_ptr<const MovieIndex> index, int threads);
  int64_t startPacketFor(int64_t n, int attempt) const;
  Status startAt(int64_t start_packet, StageTimings* timings);
  Outcome decodeUntil(int64_t n, bool accept_corrupt, UniqueAVFrame* out, Status* error,
                      StageTimings* timings);
  // Sends the next packet of the stream to the decoder (or the end-of-stream signal).
  Outcome feedPacket(Status* error, StageTimings* timings);
  // The timestamp that makes the demuxer land on (or just before) keyframe packet `key`.
  int64_t seekTimestamp(const IndexedPacket& key) const;
  // Lets the decoder drop the packet at decode position `position` if it is not a reference
  // and its frame is shown before the current target.
  void setSkipFor(int64_t position);

  std::shared_ptr<const MovieIndex> index_;
  int threads_ = 0;
  int continue_slack_ = 0;  // packets a forward pass may run before n's seek point
  bool seek_by_pts_ = false;  // the demuxer's seek takes presentation timestamps (mov, matroska)
  bool skip_nonref_ = false;  // the codec may drop non-reference frames (skip_frame) safely
  int64_t target_frame_ = -1; // the frame decodeUntil is after (-1: none known)
  MovieInput input_;
  UniqueAVCodecContext decoder_;
  UniqueAVPacket packet_;
  UniqueAVFrame frame_;

  bool positioned_ = false;   // the current pass started at a valid point and may go on
  bool started_ = false;      // the first packet of the pass has been fed
  bool end_sent_ = false;     // the decoder has been told the stream ended
  int64_t start_packet_ = -1; // decode position where the pass started (-1: stream start)
  int64_t next_packet_ = 0;   // decode position of the next packet the pass will feed
  int64_t last_output_ = -1;  // last frame (presentation index) that came out of the pass
  int64_t output_ordinal_ = 0;  // frames output since the stream start (kDecodeScan)
  ReaderCounters counters_;
};

}  // namespace framewire
