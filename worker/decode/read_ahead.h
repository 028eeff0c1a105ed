// ReadAhead: produces the next frames in the background for clients that read a movie
// forward, one frame per request (n, n+1, n+2, ...).
//
// Such a client waits for each reply before it asks for the next frame, so without read-ahead
// the worker idles while the reply travels and the client works on it, and the client waits
// for a decode and a conversion on every request. When a single-frame request for frame n
// follows ones for n-1 and n-2 (same movie and output parameters; among the last few frames
// served, so two interleaved forward readers both count), the window n+1..n+depth is worth
// having in the frame cache. Once fewer than half of it is there, the handler produces the
// rest in one forward pass of the reader already positioned there, into the cache, where the
// next requests find them (or wait for one still being produced: the cache decodes a frame
// once however many want it). Each request looks at the whole window again, so a job that
// was dropped loses nothing.
//
// Why a window, refilled in runs, and not just n+1: with n+1 alone, the decode of n+1 and the
// sending of n take turns (per frame: a decode, then a transfer), and a decoder with frame
// threads decodes one frame at a time. With frames in the cache ahead of the reader, each
// request is a cache hit sent at once while the decoder works on several frames after it:
// decode and transfer overlap, and the decoder's threads all have work.
//
// Work is bounded: one background thread, at most a couple of jobs waiting (more are
// dropped: read-ahead is a bet, never a backlog), at most `depth` frames per reader ahead,
// and a job is an ordinary request, so it competes for readers and converters like any other.
//
// Thread-safety: every method may be called concurrently; jobs run on the internal thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "framewire_generated.h"
#include "worker/worker_reply.h"

namespace framewire {

class ReadAhead {
 public:
  // `depth`: frames produced ahead of a forward reader (0 disables read-ahead).
  explicit ReadAhead(int depth = kDefaultDepth);
  ~ReadAhead();  // drops waiting jobs, waits for the running one
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  static constexpr int kDefaultDepth = 6;

  // Records that frame n was served for `key` (movie + output parameters); true when n-1 and
  // n-2 were among the last frames served for it: a forward reader, worth producing ahead for.
  bool servedAndContinues(const std::string& key, int64_t n);

  // The window after the frame last served for `key` (n+1..n+depth), as it is now: a job
  // that waited in the queue works for where the reader is, not where it was.
  std::vector<int64_t> currentWindow(const std::string& key) const;

  // The frames of `window` to produce now: those not `held` (in the cache), once fewer than
  // half of the window is held; else none (the next refill makes a longer run).
  static std::vector<int64_t> refill(const std::vector<int64_t>& window, const std::function<bool(int64_t)>& held);

  // Runs `job` (read-ahead for `key`) on the background thread; dropped when enough work is
  // already waiting.
  void submit(const std::string& key, std::function<void()> job);

  // Waits, at most `limit`, while a job for `key` runs or waits to run, when frame `n` lies in
  // the window after the frame last served for `key`. Why: that job takes (or holds) the reader
  // positioned just before `n`, and will claim `n` when it starts.
  // A forward reader outpaces the decoder (a cache hit is answered in a few ms), so it often
  // asks for the next frame before the next job has claimed it; decoding it at once would take
  // a second reader, which seeks back to the keyframe and decodes the GOP again (100+ ms for
  // H.264 with long GOPs), while after the job the positioned reader takes one decode, or the
  // frame is already in the cache. True if it waited.
  bool waitForJobAhead(const std::string& key, int64_t n, std::chrono::milliseconds limit);

  uint64_t jobsRun() const;
  uint64_t jobsDropped() const;
  // Requests that waited for a job ahead, and of them those the limit ended.
  uint64_t waits() const;
  uint64_t waitsCutShort() const;

 private:
  void loop();

  static constexpr size_t kRecentPerKey = 4;   // interleaved forward readers of one movie
  static constexpr size_t kMaxKeys = 256;      // movies x outputs remembered
  static constexpr size_t kMaxWaitingJobs = 2;

  const int depth_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, std::deque<int64_t>> recent_;  // per key, the last frames served
  struct Job {
    std::string key;
    std::function<void()> run;
  };
  std::deque<Job> jobs_;
  std::string running_key_;  // the key of the job running now; empty when none runs
  std::condition_variable job_done_;
  bool stopping_ = false;
  uint64_t run_ = 0;
  uint64_t dropped_ = 0;
  uint64_t waits_ = 0;
  uint64_t waits_cut_short_ = 0;
  std::thread thread_;
};

// A copy of FRAMES request `request` (same movie and output parameters) asking for `frames`.
flatbuffers::DetachedBuffer framesRequest(const proto::Request& request, const std::vector<int64_t>& frames);

}  // namespace framewire
