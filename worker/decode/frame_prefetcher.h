// FramePrefetcher: decodes the frames of one multi-frame request one ahead, on a helper
// thread, so that decoding frame k+1 overlaps converting (or encoding) frame k.
//
// A batch used to alternate: decode a frame, convert it, decode the next... with one of the
// two stages idle at any time. Here read(n) hands out frame n (decoded ahead if it was the
// planned next one, else decoded now) and immediately starts decoding the planned frame
// after n on the helper thread, while the caller converts n. The plan is the request's
// distinct frames in ascending order; frames the caller skips (cache hits) are simply never
// taken, costing at most one wasted decode.
//
// Errors of a decode ahead are returned by the read() of that frame. The reader is used by
// one thread at a time: the caller's, or the helper's while a decode ahead runs (read() and
// the destructor wait for it first).
//
// Thread-safety: one caller thread; the helper thread is internal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/decode/movie_reader.h"
#include "worker/stage_timings.h"

namespace framewire {

class FramePrefetcher {
 public:
  // `planned`: the frames the caller will read, ascending. `reader` must outlive this object.
  FramePrefetcher(MovieReader* reader, std::vector<int64_t> planned);
  ~FramePrefetcher();  // waits for a decode ahead, joins the helper
  FramePrefetcher(const FramePrefetcher&) = delete;
  FramePrefetcher& operator=(const FramePrefetcher&) = delete;

  // Frame n, as MovieReader::readFrame; its read and decode times go to `timings`.
  Result<UniqueAVFrame> read(int64_t n, StageTimings* timings);

  int64_t framesDecodedAhead() const { return ahead_hits_; }

 private:
  void helperLoop();
  void startAhead(int64_t n);  // the helper decodes frame n next
  void waitIdle(std::unique_lock<std::mutex>& lock);

  MovieReader* reader_;
  const std::vector<int64_t> planned_;
  std::thread helper_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool busy_ = false;           // the helper owns the reader
  int64_t job_ = -1;            // frame the helper is asked to decode (-1: none)
  int64_t done_frame_ = -1;     // frame whose result is in done_
  Result<UniqueAVFrame> done_ = Status::internal("nothing decoded ahead");
  StageTimings done_timings_;
  int64_t ahead_hits_ = 0;
};

}  // namespace framewire
