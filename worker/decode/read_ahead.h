// ReadAhead: decodes the next frames in the background for clients that read a movie
// forward, one frame per request (n, n+1, n+2, ...).
//
// Such a client waits for each reply before it asks for the next frame, so without read-ahead
// the worker idles while the reply travels and the client works on it, and the client waits
// for a decode and a conversion on every request. When a single-frame request for frame n
// follows ones for n-1 and n-2 (same movie; among the last few frames served, so two
// interleaved forward readers both count), a job decodes the window n+1..n+depth with the
// reader already positioned there, one frame after the other, and holds the decoded frames.
// The job goes on as long as the window has frames missing (each request moves the window), so
// the decoder never idles while the reader keeps up; when the window is full it ends and gives
// the reader back.
//
// Why decoded frames, not finished outputs: the request converts its frame itself, straight
// into the client's shared memory when it offers some (the conversion has to happen somewhere,
// and there it costs no copy; a finished output in the cache would be copied once more per
// frame). The decoder and the conversion still overlap: the job decodes frame n+1 while the
// request for n converts. And the frames serve any output format of the movie.
//
// A request for a frame of the window takes it (take()): at once when it is decoded, else
// it waits for the job that is about to decode it, instead of decoding it with a second
// reader (which would seek back to the keyframe and decode the GOP again: 100+ ms for H.264
// with long GOPs). A forward reader outpaces the decoder whenever a conversion is quicker than
// a decode, so waiting there is the common case.
//
// Work and memory are bounded: one background thread; at most a few jobs waiting (more are
// dropped: read-ahead is a bet, never a backlog), one per movie; a job yields to waiting ones
// after `depth` frames; frames are held only while they lie in the window of one of the
// movie's recent readers, for at most `held_for` after the movie was last served (a reader
// that went away leaves nothing behind for long), and `max_held_bytes` in all: jobs decode
// no further while the held frames fill it (by one frame at most: a movie's frame size is
// known once its first frame is decoded).
//
// Thread-safety: every method may be called concurrently; jobs run on the internal thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "worker/decode/ffmpeg_handles.h"

namespace framewire {

class ReadAhead {
 public:
  // `depth`: frames decoded ahead of a forward reader (0 disables read-ahead).
  explicit ReadAhead(int depth = kDefaultDepth, uint64_t max_held_bytes = kDefaultMaxHeldBytes,
                     std::chrono::milliseconds held_for = kDefaultHeldFor);
  ~ReadAhead();  // drops waiting jobs, waits for the running one
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  static constexpr int kDefaultDepth = 6;
  static constexpr uint64_t kDefaultMaxHeldBytes = uint64_t(256) << 20;
  static constexpr std::chrono::milliseconds kDefaultHeldFor{5000};

  // --- The request side. `movie` names a movie's version (path and signature).

  // True when frame n continues a forward reader of `movie`: n-1 and n-2 are among the last
  // frames served. Records nothing.
  bool continues(const std::string& movie, int64_t n) const;

  // Records that frame n of `movie` was served; returns continues(movie, n) as it was before.
  bool served(const std::string& movie, int64_t n);

  // Frame n of `movie`, decoded ahead (handed out once), or null when the caller has to decode
  // it itself. When a job is yet to decode n (n lies in the window and the job has not passed
  // it), waits for it, at most `limit`.
  UniqueAVFrame take(const std::string& movie, int64_t n, std::chrono::milliseconds limit);

  // --- The job side.

  // Runs `job` (read-ahead for `movie`) on the background thread, unless one for `movie` waits
  // or runs already. The oldest waiting job is dropped when too many wait. A job that returns
  // true made way for others (othersWaiting()) and runs again after them.
  void submit(const std::string& movie, std::function<bool()> job);

  // The frame the job for `movie` should decode next: the first of the window after the frame
  // served last that is below `end`, not held, not `present` elsewhere (a finished output in a
  // cache) and not behind the job's own position (its reader only goes forward). -1 when
  // there is none, or when the held frames fill max_held_bytes. Marks the frame as being
  // decoded.
  int64_t nextToDecode(const std::string& movie, int64_t end, const std::function<bool(int64_t)>& present);

  // Hands frame n (the one nextToDecode gave) to the requests: held until one takes it.
  void put(const std::string& movie, int64_t n, UniqueAVFrame frame);
  // The job could not decode the frame nextToDecode gave; the request decodes it itself.
  void failed(const std::string& movie);

  // True when another job waits: a job that has decoded `depth` frames should make way.
  bool othersWaiting() const;
  int depth() const { return depth_; }

  struct Counters {
    uint64_t frames_decoded = 0;   // by jobs, ahead
    uint64_t frames_taken = 0;     // of them, the frames requests took
    uint64_t jobs_run = 0;         // job runs (a job that made way runs again)
    uint64_t jobs_dropped = 0;     // pushed out of the queue before they ran
    uint64_t waits = 0;            // takes that waited for the job
    uint64_t waits_cut_short = 0;  // of them, those the limit ended
    uint64_t held_bytes = 0;       // what the held frames pin now
  };
  Counters counters() const;

 private:
  struct Movie {
    std::deque<int64_t> recent;           // the last frames served, oldest first
    std::chrono::steady_clock::time_point last_served;  // when a frame was last served
    std::map<int64_t, UniqueAVFrame> held;  // decoded ahead, not taken yet
    uint64_t held_bytes = 0;
    uint64_t frame_bytes = 0;             // what the last decoded frame pins
    int64_t decoded_up_to = -1;           // the last frame a job decoded (its reader's position)
    int64_t decoding = -1;                // the frame a job decodes now (-1: none)
    bool job_waiting_or_running = false;
  };

  void loop();
  // Drops the frames of movies not served for `held_for_` (and no job at work for them).
  void dropStaleLocked();
  bool continuesLocked(const Movie& movie, int64_t n) const;
  // Where the job stands: frames after it come out of its reader without a seek.
  int64_t positionLocked(const Movie& movie) const;
  // The frame the job is about to decode or decoding now, if n may still come from it.
  bool jobWillDecodeLocked(const Movie& movie, int64_t n) const;
  // Takes the frame out of `movie`'s held frames.
  UniqueAVFrame dropHeldLocked(Movie* movie, std::map<int64_t, UniqueAVFrame>::iterator frame);

  static constexpr size_t kRecentPerMovie = 4;  // interleaved forward readers of one movie
  static constexpr size_t kMaxMovies = 256;     // movies remembered
  static constexpr size_t kMaxWaitingJobs = 4;

  const int depth_;
  const uint64_t max_held_bytes_;
  const std::chrono::milliseconds held_for_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;      // the job thread: a job to run, or stop
  std::condition_variable progress_;  // takers: a frame was put, a job failed or ended
  std::unordered_map<std::string, Movie> movies_;
  struct Job {
    std::string movie;
    std::function<bool()> run;
  };
  std::deque<Job> jobs_;
  bool stopping_ = false;
  Counters counters_;
  std::thread thread_;
};

}  // namespace framewire
