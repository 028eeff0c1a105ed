// ReadAhead: produces the next frame in the background for clients that read a movie forward,
// one frame per request (n, n+1, n+2, ...).
//
// Such a client waits for each reply before it asks for the next frame, so without read-ahead
// the worker idles while the reply travels and the client works on it, and the client waits
// for a decode and a conversion on every request. When a single-frame request for frame n
// follows ones for n-1 and n-2 (same movie and output parameters; among the last few frames
// served, so two interleaved forward readers both count), the handler asks ReadAhead to produce n+1
// now: decoded and converted by the reader already positioned there, into the frame cache,
// where the next request finds it (or waits for it, if it is still being produced: the cache
// decodes a frame once however many want it).
//
// Work is bounded: one background thread, at most a couple of jobs waiting (more are
// dropped: read-ahead is a bet, never a backlog), and the job is an ordinary request for one
// frame, so it competes for readers and converters like any other.
//
// A job first waits (briefly) until the reply that triggered it has left the process (its
// payload's last reference dropped: the socket sent it; see ReplyDelivery). On a small
// machine, decoding the next frame while the current one is being sent slows the sending
// down by as much as the decode costs; afterwards, it uses the time the client spends on
// the frame it just received.
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

#include <flatbuffers/flatbuffers.h>

#include "framewire_generated.h"
#include "worker/worker_reply.h"

namespace framewire {

class ReadAhead {
 public:
  ReadAhead();
  ~ReadAhead();  // drops waiting jobs, waits for the running one
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Records that frame n was served for `key` (movie + output parameters); true when n-1 and
  // n-2 were among the last frames served for it, i.e. n+1 is worth producing ahead.
  bool servedAndContinues(const std::string& key, int64_t n);

  // Runs `job` on the background thread; dropped when enough work is already waiting.
  void submit(std::function<void()> job);

  uint64_t jobsRun() const;
  uint64_t jobsDropped() const;

 private:
  void loop();

  static constexpr size_t kRecentPerKey = 4;   // interleaved forward readers of one movie
  static constexpr size_t kMaxKeys = 256;      // movies x outputs remembered
  static constexpr size_t kMaxWaitingJobs = 2;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, std::deque<int64_t>> recent_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  uint64_t run_ = 0;
  uint64_t dropped_ = 0;
  std::thread thread_;
};

// Knows when a reply's pixels have been sent: watch() ties a token to the reply's first
// payload part, released when the socket lets go of it.
class ReplyDelivery {
 public:
  // Watches `reply` (a reply without payload counts as delivered at once).
  static std::shared_ptr<ReplyDelivery> watch(WorkerReply* reply);
  // True once delivered; false when `timeout` passed first.
  bool wait(std::chrono::milliseconds timeout);

 private:
  void delivered();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool delivered_ = false;
};

// A copy of FRAMES request `request` (same movie and output parameters) asking for frame
// `frame` only.
flatbuffers::DetachedBuffer singleFrameRequest(const proto::Request& request, int64_t frame);

}  // namespace framewire
