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
// - STATS answers INVALID_ARGUMENT ("not supported yet").
//
// Thread-safety: handle() may be called concurrently from several threads (one per worker
// connection); the caches inside are shared and internally synchronised, and each open
// decoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framewire_generated.h"
#include "worker/worker_reply.h"

namespace framewire {

struct RequestHandlerConfig {
  std::vector<std::string> roots;  // movie roots; a movie path resolves in the first root holding it
  size_t max_open_movies = 8;      // open demuxer+decoder sets kept per worker process (LRU)
  size_t max_movie_infos = 1024;   // movie metadata + index entries kept (LRU)
  int decoder_threads = 0;         // FFmpeg decoder threads per decoder; 0 = one per core
  int convert_threads = 0;         // swscale threads; 0 = one per core
  uint64_t max_reply_bytes = uint64_t(1) << 30;  // FRAMES replies larger than this are refused
  size_t max_frames_per_request = 10000;          // FRAMES entries (indices + times) per request
};

class RequestHandler {
 public:
  explicit RequestHandler(RequestHandlerConfig config);
  ~RequestHandler();
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // Never throws; every failure becomes a reply with an error status and message.
  // `queue_us` (time spent in the broker's queue) and `worker_name` go into the header.
  WorkerReply handle(const proto::Request& request, int64_t queue_us, const std::string& worker_name);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framewire
