// RequestHandler: answers one framewire Request (INFO, FRAMES, LIST) with a WorkerReply.
//
// It is the whole decode side of a worker without any socket: path confinement, movie
// metadata and index, open demuxers+decoders, conversion and encoding. The worker loop
// (worker/worker_connection.h) calls it; tests call it directly.
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
