// WorkerConnection: one worker as the broker sees it — a DEALER connected to the broker's
// backend that announces itself with READY, serves one request at a time and heartbeats.
//
// Decoding happens on the connection's own decode thread, never on the socket thread, so
// heartbeats keep flowing while a long batch decodes (PROTOCOL.md section 7). The decode
// thread hands finished replies back to the socket thread over an inproc PAIR; the reply's
// pixel parts are zero-copy messages over the decoder's or converter's buffers all the way
// to the broker. One exception: a FRAMES request whose frames are all in the process's RAM
// cache is answered on the socket thread itself (RequestHandler::answerFromMemory, which
// never blocks), sparing a cache hit the two thread handoffs; its parts point into the
// cache entries.
//
// When the broker falls silent for `heartbeat_liveness` intervals, or tells it DISCONNECT,
// the connection closes its socket and reconnects with exponential back-off (Paranoid
// Pirate). Thread-safety: run() runs on one thread; the RequestHandler is shared with other
// connections and is itself thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "worker/request_handler.h"

namespace framewire {

struct WorkerConnectionOptions {
  std::string broker_endpoint;  // the broker's backend, e.g. tcp://broker:5556
  std::string name;             // shown in logs and in Reply.worker
  std::string cache_group;      // sent with READY: the connections sharing this process's caches
  std::chrono::milliseconds heartbeat_interval{1000};
  int heartbeat_liveness = 3;
  std::chrono::milliseconds reconnect_min{250};  // back-off after losing the broker ...
  std::chrono::milliseconds reconnect_max{8000};  // ... doubling up to this
  int socket_hwm = 32;
};

class WorkerConnection {
 public:
  WorkerConnection(zmq::context_t& context, std::shared_ptr<RequestHandler> handler,
                   WorkerConnectionOptions options);
  ~WorkerConnection();
  WorkerConnection(const WorkerConnection&) = delete;
  WorkerConnection& operator=(const WorkerConnection&) = delete;

  // Serves until `stop` becomes true, then sends DISCONNECT and returns. Call once.
  void run(const std::atomic<bool>& stop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framewire
