// RequestHandler: answers one framewire Request (INFO, FRAMES, LIST) with a WorkerReply.
//
// It is the whole decode side of a worker without any socket: path confinement, movie
// metadata and index, open demuxers+decoders, conversion and encoding. The worker loop
// (worker/worker_connection.h) calls it; tests call it directly.
//
// What the replies hold (beyond PROTOCOL.md):
// - Every reply: id, status, message (errors name the movie or argument at fault), worker name,
//   timings (queue_us as passed in; read/decode/convert/encode/total measured here; read_us
//   includes resolving, indexing and opening the movie).
// - FRAMES: one FrameHeader per requested frame in request order (`frames` by index first,
//   then `times`). Distinct frames are decoded once, in presentation order; repeated frames
//   share payload parts. `time` is (pts - pts of frame 0) * time_base, so frame 0 is at 0 s and
//   MovieInfo.start_time gives frame 0's own pts in seconds. `size` is the frame's pixel bytes
//   without row padding (or the image file's bytes). `native` parts point into the decoder's
//   buffers; converted formats are tightly packed (stride == row_bytes).
// - Limits: a FRAMES request may name at most max_frames_per_request frames, and its output is
//   estimated before decoding and refused (INVALID_ARGUMENT naming the limit) when it would
//   exceed max_reply_bytes.
// - Caches (worker/cache/frame_store.h): FRAMES outputs come from the RAM tier, the disk tier or the
//   decoder, and FrameHeader.cached says which. answerFromMemory() is the socket thread's
//   shortcut for requests whose frames are all in RAM.
// - Speed (issue 4): a request for several frames decodes the next one while converting the
//   current (worker/decode/frame_prefetcher.h); a client reading forward one frame per request gets
//   the next frames decoded in the background, and its requests convert them (worker/decode/read_ahead.h;
//   a forward reader's frames are not kept in the RAM tier). One request keeps at most an
//   eighth of the RAM tier (worker/cache/frame_store.h, Admission).
// - Indexes are kept in the state folder when there is one (worker/index/index_store.h).
// - STATS: Reply.stats_json holds this worker process's statistics (caches, movies, requests).
//
// Thread-safety: handle() may be called concurrently from several threads (one per worker
// connection); the caches inside are shared and internally synchronised, and each open
// decoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framewire_generated.h"
#include "worker/worker_reply.h"

namespace framewire {

struct RequestHandlerConfig {
  std::vector<std::string> roots;  // movie roots; a movie path resolves in the first root holding it
  size_t max_open_movies = 8;      // open demuxer+decoder sets kept per worker process (LRU)
  size_t max_movie_infos = 1024;   // movie metadata + index entries kept (LRU)
  int read_ahead_frames = 6;       // frames decoded ahead of a forward reader (worker/decode/read_ahead.h); 0: off
  int decoder_threads = 0;         // FFmpeg decoder threads per decoder; 0 = FFmpeg's choice (one per core plus one)
  int convert_threads = 0;         // swscale threads; 0 = one per core
  uint64_t max_reply_bytes = uint64_t(1) << 30;  // FRAMES replies larger than this are refused
  size_t max_frames_per_request = 10000;          // FRAMES entries (indices + times) per request
  uint64_t stream_chunk_bytes = uint64_t(8) << 20;  // streamed replies: smallest PARTIAL (worker/frame_stream.h)
  bool shared_memory = true;        // write frames into a local client's shared memory when it offers some
  uint64_t cache_bytes = 0;        // RAM frame cache (0: none; the worker flags default to 1 GiB)
  std::string disk_cache_dir;      // disk frame cache folder; empty: none
  uint64_t disk_cache_bytes = uint64_t(10) << 30;
  std::string state_dir;           // persisted movie indexes (worker/index/index_store.h); empty: none
  // Remote movies and overlays (worker/source/movie_source.h): a name no root holds is looked up in
  // the overlays (local copies, read first), then under the remote bases (HTTP range reads).
  std::vector<std::string> overlays;      // --file-overlay folders
  bool overlay_flatten = false;           // --file-overlay-flatten: copies by file name, one folder
  std::vector<std::string> remote_bases;  // --remote-base http(s) folders; full URL names must be under one
  uint64_t remote_cache_bytes = uint64_t(256) << 20;  // remote block cache of this process
  int64_t remote_timeout_ms = 20000;      // one HTTP request, connect to last byte
  int64_t remote_revalidate_ms = 1000;    // how long a remote file's version (HEAD) is trusted
};

class RequestHandler {
 public:
  // Throws std::invalid_argument when the disk cache cannot be opened (a startup error: the
  // folder is unusable or another process holds it), or a remote base is not an http(s) URL.
  explicit RequestHandler(RequestHandlerConfig config);
  ~RequestHandler();
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // Takes a PARTIAL message of a streamed reply (PROTOCOL.md 3) off the handler's thread.
  using SendPartial = std::function<void(WorkerReply partial)>;

  // Never throws; every failure becomes a reply with an error status and message.
  // `queue_us` (time spent in the broker's queue) and `worker_name` go into the header.
  // A FRAMES request that asks for streaming sends runs of its frames to `send_partial` (when
  // given) while later frames are produced (worker/frame_stream.h); the returned reply is then
  // the last message, with the frames not sent yet.
  WorkerReply handle(const proto::Request& request, int64_t queue_us, const std::string& worker_name,
                     const SendPartial& send_partial = nullptr);

  // The reply to a FRAMES request by index whose frames are all in the RAM cache, built
  // without decoding, waiting or disk access (so the socket thread may call it); nullopt
  // otherwise, and then handle() answers it. Never throws.
  std::optional<WorkerReply> answerFromMemory(const proto::Request& request, int64_t queue_us,
                                              const std::string& worker_name);

  // Waits until frames queued for the disk cache are written (tests).
  void flushCaches();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framewire
